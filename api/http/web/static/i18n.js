// Labels of the web workspace, one dictionary per language. Chinese is the default; the
// choice is kept in localStorage. Tag names come from the API's catalog (name_zh / name_en).

const zh = {
  'title.overview': 'guanxi · 概览', 'title.influencers': 'guanxi · 影响力客户',
  'title.customer': 'guanxi · 客户360', 'title.segments': 'guanxi · 客群圈选',
  'title.community': 'guanxi · 社群', 'title.campaign': 'guanxi · 裂变活动',
  'title.diff': 'guanxi · 运行对比',
  'nav.overview': '概览', 'nav.influencers': '影响力客户', 'nav.customer': '客户360',
  'nav.segments': '客群圈选', 'nav.community': '社群', 'nav.campaign': '裂变活动',
  'nav.diff': '运行对比',
  'key.title': 'API 密钥', 'key.help': '请输入 API 密钥（仅保存在本标签页，关闭即清除）。',
  'key.submit': '进入', 'key.logout': '退出', 'key.unknown': '密钥无效',
  'role.viewer': '查看者', 'role.operator': '运营', 'role.admin': '管理员',
  'overview.coverage': '各类标签覆盖率', 'overview.sizes': '社群规模分布',
  'overview.history': '运行历史', 'overview.run': '最新运行', 'overview.created': '时间',
  'overview.customers': '客户', 'overview.relations': '关系', 'overview.transactions': '交易',
  'overview.events': '事件', 'overview.communities': '社群数', 'overview.modularity': '模块度',
  'overview.no_run': '尚无分析运行：请先执行 guanxi analyze。',
  'overview.share': '覆盖率', 'overview.count': '社群数', 'overview.size': '社群人数',
  'filter.community': '社群', 'filter.tag': '标签', 'filter.search': '客户编号',
  'filter.all': '全部', 'filter.go': '查询',
  'pager.prev': '上一页', 'pager.next': '下一页', 'pager.page': '第 {n} 页',
  'col.rank': '排名', 'col.customer_id': '客户编号', 'col.score': '影响力', 'col.community': '社群',
  'col.tags': '标签', 'col.pagerank': 'PageRank', 'col.degree': '连接数', 'col.reach_2hop': '二度触达',
  'col.tag': '标签', 'col.reason': '原因', 'col.category': '类别', 'col.value': '值',
  'col.pct': '百分位', 'col.metric': '指标', 'col.field': '字段', 'col.influence': '影响力',
  'col.run': '运行', 'col.created': '时间', 'col.customers': '客户', 'col.relations': '关系',
  'col.communities': '社群数', 'col.modularity': '模块度', 'col.gained': '新增', 'col.lost': '失去',
  'col.change': '变化', 'col.gain': '边际增益', 'col.reach': '预期触达',
  'customer.id': '客户编号', 'customer.attributes': '属性', 'customer.metrics': '图指标（全体百分位）',
  'customer.tags': '标签与原因', 'customer.network': '关系网络', 'customer.hops': '跳数',
  'customer.limit': '上限', 'customer.referrals': '推荐树',
  'customer.showing': '显示 {n} / {m} 位邻居', 'customer.none': '请输入客户编号。',
  'customer.no_referrals': '没有推荐关系。', 'customer.social': '社交标签',
  'segment.expression': '标签表达式（AND / OR / NOT / 括号）', 'segment.count': '人数',
  'segment.export': '导出 CSV', 'segment.members': '成员（前 100）',
  'segment.refused': '导出被拒绝：', 'segment.position': '位置 {p}',
  'community.members': '成员（社群内排名）', 'community.map': '社群地图',
  'community.composition': '标签构成', 'community.size': '人数', 'community.density': '密度',
  'community.internal': '内部权重', 'community.external': '外部权重', 'community.leader': '领袖',
  'community.map_note': '显示最大的 {n} / {m} 个社群；连线粗细为跨社群关系对数。',
  'campaign.k': '种子数 k', 'campaign.target': '目标客群表达式', 'campaign.cap': '每社群上限',
  'campaign.plan': '生成方案', 'campaign.baselines': '预期触达与基线', 'campaign.per_community': '各社群触达',
  'campaign.seeds': '种子客户', 'campaign.download': '下载 CSV', 'campaign.reach': '预期触达',
  'campaign.ci': '95% 置信区间', 'campaign.planning': '计算中…', 'campaign.done': '完成，用时 {s} 秒',
  'campaign.needs_operator': '活动规划需要运营或管理员密钥。', 'campaign.plan_name': 'IMM 方案',
  'campaign.top_degree': '度数最高', 'campaign.top_out_strength': '外向强度最高',
  'campaign.top_pagerank': 'PageRank 最高',
  'diff.from': '从', 'diff.to': '到', 'diff.totals': '每个标签的变化', 'diff.changes': '客户变化',
  'diff.none': '两次运行之间标签没有变化。', 'diff.need_two': '需要至少两次运行。',
  'diff.gained': '新增', 'diff.lost': '失去',
  'cat.basic': '基础属性', 'cat.behavior': '行为特征', 'cat.consumption': '消费偏好',
  'cat.value': '价值评估', 'cat.interest': '兴趣偏好', 'cat.lifecycle': '生命周期',
  'cat.social': '社交关系', 'cat.risk': '风险预警', 'cat.community': '社群',
  'error.generic': '出错了：',
};

const en = {
  'title.overview': 'guanxi · Overview', 'title.influencers': 'guanxi · Influencers',
  'title.customer': 'guanxi · Customer 360', 'title.segments': 'guanxi · Segment builder',
  'title.community': 'guanxi · Community', 'title.campaign': 'guanxi · Campaign planner',
  'title.diff': 'guanxi · Run diff',
  'nav.overview': 'Overview', 'nav.influencers': 'Influencers', 'nav.customer': 'Customer 360',
  'nav.segments': 'Segments', 'nav.community': 'Community', 'nav.campaign': 'Campaign',
  'nav.diff': 'Run diff',
  'key.title': 'API key', 'key.help': 'Enter your API key (kept in this tab only, gone when it closes).',
  'key.submit': 'Enter', 'key.logout': 'Log out', 'key.unknown': 'Unknown key',
  'role.viewer': 'viewer', 'role.operator': 'operator', 'role.admin': 'admin',
  'overview.coverage': 'Tag coverage by category', 'overview.sizes': 'Community size distribution',
  'overview.history': 'Run history', 'overview.run': 'Latest run', 'overview.created': 'Created',
  'overview.customers': 'Customers', 'overview.relations': 'Relations',
  'overview.transactions': 'Transactions', 'overview.events': 'Events',
  'overview.communities': 'Communities', 'overview.modularity': 'Modularity',
  'overview.no_run': 'No analysis run yet: run guanxi analyze first.',
  'overview.share': 'coverage', 'overview.count': 'communities', 'overview.size': 'members',
  'filter.community': 'Community', 'filter.tag': 'Tag', 'filter.search': 'Customer id',
  'filter.all': 'all', 'filter.go': 'Go',
  'pager.prev': 'Previous', 'pager.next': 'Next', 'pager.page': 'page {n}',
  'col.rank': 'Rank', 'col.customer_id': 'Customer', 'col.score': 'Influence', 'col.community': 'Community',
  'col.tags': 'Tags', 'col.pagerank': 'PageRank', 'col.degree': 'Degree', 'col.reach_2hop': '2-hop reach',
  'col.tag': 'Tag', 'col.reason': 'Reason', 'col.category': 'Category', 'col.value': 'Value',
  'col.pct': 'Percentile', 'col.metric': 'Metric', 'col.field': 'Field', 'col.influence': 'Influence',
  'col.run': 'Run', 'col.created': 'Created', 'col.customers': 'Customers', 'col.relations': 'Relations',
  'col.communities': 'Communities', 'col.modularity': 'Modularity', 'col.gained': 'Gained',
  'col.lost': 'Lost', 'col.change': 'Change', 'col.gain': 'Marginal gain', 'col.reach': 'Expected reach',
  'customer.id': 'Customer id', 'customer.attributes': 'Attributes',
  'customer.metrics': 'Graph metrics (percentile among all)', 'customer.tags': 'Tags and reasons',
  'customer.network': 'Ego network', 'customer.hops': 'Hops', 'customer.limit': 'Limit',
  'customer.referrals': 'Referral tree', 'customer.showing': 'showing {n} of {m} neighbours',
  'customer.none': 'Enter a customer id.', 'customer.no_referrals': 'No referral relations.',
  'customer.social': 'social tags',
  'segment.expression': 'Tag expression (AND / OR / NOT / parentheses)', 'segment.count': 'Members',
  'segment.export': 'Export CSV', 'segment.members': 'Members (first 100)',
  'segment.refused': 'Export refused: ', 'segment.position': 'position {p}',
  'community.members': 'Members (rank in community)', 'community.map': 'Community map',
  'community.composition': 'Tag composition', 'community.size': 'Members',
  'community.density': 'Density', 'community.internal': 'Internal weight',
  'community.external': 'External weight', 'community.leader': 'Leader',
  'community.map_note': 'the {n} largest of {m} communities; link width is the number of customer pairs tied across.',
  'campaign.k': 'Seeds k', 'campaign.target': 'Target expression', 'campaign.cap': 'Max per community',
  'campaign.plan': 'Plan', 'campaign.baselines': 'Expected reach and baselines',
  'campaign.per_community': 'Reach per community', 'campaign.seeds': 'Seeds',
  'campaign.download': 'Download CSV', 'campaign.reach': 'Expected reach', 'campaign.ci': '95% CI',
  'campaign.planning': 'planning…', 'campaign.done': 'done in {s} s',
  'campaign.needs_operator': 'Campaign planning needs an operator or admin key.',
  'campaign.plan_name': 'IMM plan', 'campaign.top_degree': 'top degree',
  'campaign.top_out_strength': 'top out-strength', 'campaign.top_pagerank': 'top PageRank',
  'diff.from': 'From', 'diff.to': 'To', 'diff.totals': 'Change per tag', 'diff.changes': 'Customer changes',
  'diff.none': 'No tag changed between the two runs.', 'diff.need_two': 'Needs at least two runs.',
  'diff.gained': 'gained', 'diff.lost': 'lost',
  'cat.basic': 'Basic', 'cat.behavior': 'Behaviour', 'cat.consumption': 'Consumption',
  'cat.value': 'Value', 'cat.interest': 'Interest', 'cat.lifecycle': 'Lifecycle',
  'cat.social': 'Social', 'cat.risk': 'Risk', 'cat.community': 'Community',
  'error.generic': 'Error: ',
};

export const DICTIONARIES = { zh, en };
const KEY = 'guanxi.lang';

export function lang() {
  const v = localStorage.getItem(KEY);
  return v === 'en' ? 'en' : 'zh';
}

export function setLang(v) {
  localStorage.setItem(KEY, v === 'en' ? 'en' : 'zh');
}

/** The label `key` in the current language, `{name}` placeholders filled from `vars`. */
export function t(key, vars = {}) {
  const d = DICTIONARIES[lang()];
  const s = d[key] ?? DICTIONARIES.zh[key] ?? key;
  return s.replace(/\{(\w+)\}/g, (_, k) => String(vars[k] ?? ''));
}

/** Fill every [data-i18n] element under `root` with its label. */
export function applyLabels(root = document) {
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  document.documentElement.lang = lang() === 'en' ? 'en' : 'zh-CN';
}
