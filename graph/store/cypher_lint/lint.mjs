// Lints Cypher statements with Neo4j's own parser and semantic analyser
// (@neo4j-cypher/language-support, lintCypherQuery).
// Input (stdin): JSON list of {"name", "cypher", "parameters"}; output (stdout): JSON list of
// {"name", "errors": [...], "warnings": [...]}; exit code 1 when any statement has an error.
import { lintCypherQuery } from '@neo4j-cypher/language-support';

const chunks = [];
for await (const c of process.stdin) chunks.push(c);
const statements = JSON.parse(Buffer.concat(chunks).toString('utf8'));
const labels = process.env.GUANXI_LABELS ? JSON.parse(process.env.GUANXI_LABELS) : undefined;
const relTypes = process.env.GUANXI_REL_TYPES ? JSON.parse(process.env.GUANXI_REL_TYPES) : undefined;

let failed = 0;
const results = statements.map(({ name, cypher, parameters }) => {
  const dbSchema = { parameters: parameters ?? {} };
  if (labels) dbSchema.labels = labels;
  if (relTypes) dbSchema.relationshipTypes = relTypes;
  const { diagnostics } = lintCypherQuery(cypher, dbSchema);
  // severity 1 = error, 2 = warning (LSP DiagnosticSeverity)
  const errors = diagnostics.filter((d) => d.severity === 1).map((d) => d.message);
  const warnings = diagnostics.filter((d) => d.severity !== 1).map((d) => d.message);
  if (errors.length) failed += 1;
  return { name, errors, warnings };
});
process.stdout.write(JSON.stringify(results));
process.exit(failed ? 1 : 0);
