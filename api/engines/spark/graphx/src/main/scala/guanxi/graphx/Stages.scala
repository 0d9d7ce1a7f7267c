package guanxi.graphx

import org.apache.spark.graphx._
import org.apache.spark.graphx.lib.{ConnectedComponents, StronglyConnectedComponents, TriangleCount}
import org.apache.spark.rdd.RDD
import org.apache.spark.sql.{DataFrame, Row, SparkSession}
import org.apache.spark.sql.types._
import org.apache.spark.storage.StorageLevel

/** guanxi's graph stages on GraphX, called from Python through py4j.
  *
  * Every stage takes DataFrames (vertices: `vid` long; directed edges: `src`, `dst`, `weight`;
  * undirected edges: `lo` < `hi`, `weight`) and returns a DataFrame keyed by `vid`, so nothing
  * proportional to the customers passes through the driver. Vertex ids are the customers'
  * ranks in ascending id order (assigned by [[indexIds]]), as the local engine numbers them,
  * so "the lower vertex" means "the smaller customer id" in both engines.
  */
object Stages {

  private def spark(df: DataFrame): SparkSession = df.sparkSession

  private def vertexRdd(vertices: DataFrame): RDD[(VertexId, Unit)] =
    vertices.select("vid").rdd.map(r => (r.getLong(0), ()))

  private def undirectedGraph(vertices: DataFrame, und: DataFrame): Graph[Unit, Double] = {
    val edges = und.select("lo", "hi", "weight").rdd.map(r => Edge(r.getLong(0), r.getLong(1), r.getDouble(2)))
    Graph(vertexRdd(vertices), edges, (), StorageLevel.MEMORY_AND_DISK, StorageLevel.MEMORY_AND_DISK)
  }

  private def out(session: SparkSession, rows: RDD[Row], fields: (String, DataType)*): DataFrame =
    session.createDataFrame(rows, StructType(fields.map { case (n, t) => StructField(n, t, nullable = false) }))

  /** `df` with a column `idx`: the row's position (0..n-1) in the order of `orderBy` (comma list).
    *
    * A distributed sort and `zipWithIndex` (one count per partition reaches the driver),
    * because a window without a partition would put every row in one task.
    */
  def positions(df: DataFrame, orderBy: String): DataFrame = {
    val sorted = df.orderBy(orderBy.split(",").map(c => df.col(c.trim)).toSeq: _*)
    val rows = sorted.rdd.zipWithIndex().map { case (r, i) => Row.fromSeq(r.toSeq :+ i) }
    spark(df).createDataFrame(rows, sorted.schema.add(StructField("idx", LongType, nullable = false)))
  }

  /** Distinct customer ids numbered 0..n-1 in ascending order (`vid`, `customer_id`). */
  def indexIds(ids: DataFrame): DataFrame = {
    val distinct = ids.select("customer_id").where("customer_id IS NOT NULL").distinct()
    positions(distinct, "customer_id").selectExpr("idx AS vid", "customer_id")
  }

  /** Undirected degree (distinct neighbours) from the undirected simple edge list. */
  def degrees(vertices: DataFrame, und: DataFrame): DataFrame = {
    val g = undirectedGraph(vertices, und)
    val rows = g.outerJoinVertices(g.degrees)((_, _, d) => d.getOrElse(0)).vertices.map { case (v, d) => Row(v, d.toLong) }
    out(spark(vertices), rows, "vid" -> LongType, "degree" -> LongType)
  }

  /** Weighted directed PageRank, dangling vertices spreading their rank uniformly.
    *
    * The same model as igraph's (graph/centrality.py): each step a vertex passes
    * `damping * rank * w / out_strength` along each out-edge, the rank of vertices without
    * out-strength is shared by all, and every vertex gets the `(1 - damping) / n` teleport
    * share. Power iteration until the L1 change is below `tol` (or `maxIter` steps); with
    * a checkpoint folder set on the context the graph is checkpointed every 10 steps.
    * Returns the scores and the number of steps taken.
    */
  def pagerank(
      vertices: DataFrame,
      edges: DataFrame,
      damping: Double,
      tol: Double,
      maxIter: Int
  ): (DataFrame, Int) = {
    val session = spark(vertices)
    val sc = session.sparkContext
    val n = vertices.count().toDouble
    val raw = edges.select("src", "dst", "weight").rdd.map(r => Edge(r.getLong(0), r.getLong(1), r.getDouble(2)))
    val base = Graph(vertexRdd(vertices), raw, (), StorageLevel.MEMORY_AND_DISK, StorageLevel.MEMORY_AND_DISK)
    val outStrength = base.aggregateMessages[Double](c => c.sendToSrc(c.attr), _ + _, TripletFields.EdgeOnly)
    val withStrength = base.outerJoinVertices(outStrength)((_, _, s) => s.getOrElse(0.0))
    // edge attribute: the edge's share of its source's out-strength
    val norm = withStrength.mapTriplets(t => if (t.srcAttr > 0) t.attr / t.srcAttr else 0.0)
    // vertex attribute: (rank, dangling)
    var graph: Graph[(Double, Boolean), Double] = norm.mapVertices((_, s) => (1.0 / n, !(s > 0))).cache()
    var danglingMass = graph.vertices.values.filter(_._2).map(_._1).sum()
    var step = 0
    var delta = Double.MaxValue
    while (step < maxIter && delta > tol) {
      val contrib = graph.aggregateMessages[Double](c => c.sendToDst(c.srcAttr._1 * c.attr), _ + _, TripletFields.Src)
      val shared = (1.0 - damping) / n + damping * danglingMass / n
      val next = graph.outerJoinVertices(contrib)((_, rd, m) => (shared + damping * m.getOrElse(0.0), rd._2)).cache()
      step += 1
      // the lineage grows by a few RDDs a step; scheduling a long one costs more each step
      if (step % 10 == 0 && sc.getCheckpointDir.nonEmpty) next.checkpoint()
      // one job a step: the change (to stop) and the dangling rank (for the next step)
      val (d, dm) = next.vertices.innerJoin(graph.vertices)((_, a, b) => (math.abs(a._1 - b._1), if (a._2) a._1 else 0.0))
        .values.fold((0.0, 0.0))((x, y) => (x._1 + y._1, x._2 + y._2))
      delta = d
      danglingMass = dm
      // each step caches a new edge view carrying the ranks: drop the last one, or memory
      // grows by a copy of the edges per step (GraphX's own PageRank does the same)
      next.edges.foreachPartition(_ => ()) // materialised before its parent is dropped
      graph.unpersistVertices(blocking = false)
      graph.edges.unpersist(blocking = false)
      graph = next
    }
    val rows = graph.vertices.map { case (v, (r, _)) => Row(v, r) }
    (out(session, rows, "vid" -> LongType, "pagerank" -> DoubleType), step)
  }

  /** Connected components of the undirected view: each vertex labelled by its component's lowest vertex. */
  def components(vertices: DataFrame, und: DataFrame): DataFrame = {
    val cc = ConnectedComponents.run(undirectedGraph(vertices, und))
    val rows = cc.vertices.map { case (v, c) => Row(v, c) }
    out(spark(vertices), rows, "vid" -> LongType, "component" -> LongType)
  }

  /** Label propagation communities: synchronous, unweighted, `maxSteps` rounds, deterministic.
    *
    * Each round every vertex takes the label most of its neighbours hold, ties to the smallest
    * label (GraphX's own LabelPropagation breaks ties by message arrival order, so two runs on
    * the same graph could differ). Labels start as the vertex ids; vertices without
    * neighbours keep theirs.
    */
  def labelPropagation(vertices: DataFrame, und: DataFrame, maxSteps: Int): DataFrame = {
    val sc = spark(vertices).sparkContext
    var g: Graph[VertexId, Double] = undirectedGraph(vertices, und).mapVertices((id, _) => id).cache()
    def merge(a: Map[VertexId, Long], b: Map[VertexId, Long]): Map[VertexId, Long] =
      b.foldLeft(a) { case (acc, (l, c)) => acc.updated(l, acc.getOrElse(l, 0L) + c) }
    var step = 0
    while (step < maxSteps) {
      val counts = g.aggregateMessages[Map[VertexId, Long]](
        c => { c.sendToDst(Map(c.srcAttr -> 1L)); c.sendToSrc(Map(c.dstAttr -> 1L)) },
        merge,
        TripletFields.All
      )
      val next = g.outerJoinVertices(counts) { (_, old, m) =>
        m.fold(old)(_.maxBy { case (label, n) => (n, -label) }._1)
      }.cache()
      step += 1
      if (step % 10 == 0 && sc.getCheckpointDir.nonEmpty) next.checkpoint()
      next.vertices.count()
      next.edges.foreachPartition(_ => ())
      g.unpersistVertices(blocking = false)
      g.edges.unpersist(blocking = false)
      g = next
    }
    val rows = g.vertices.map { case (v, c) => Row(v, c) }
    out(spark(vertices), rows, "vid" -> LongType, "label" -> LongType)
  }

  /** Triangles through each vertex of the undirected simple view (edges already lo < hi, unique). */
  def triangles(vertices: DataFrame, und: DataFrame): DataFrame = {
    val t = TriangleCount.runPreCanonicalized(undirectedGraph(vertices, und))
    val rows = t.vertices.map { case (v, c) => Row(v, c.toLong) }
    out(spark(vertices), rows, "vid" -> LongType, "triangles" -> LongType)
  }

  /** k-core number of each vertex (Montresor, De Pellegrini and Miorandi 2013), Pregel-style.
    *
    * Each vertex keeps its neighbours' latest estimates and lowers its own to the largest k
    * such that k neighbours estimate at least k (the h-index); estimates start at the degree
    * and only fall, and the fixed point is the coreness. Only vertices whose estimate
    * changed send, so late rounds touch few edges.
    *
    * Why not GraphX's `Pregel`: it ships the whole vertex state to the edge partitions every
    * round (`TripletFields.All`), and here the state holds every neighbour's estimate, so each
    * round would move and serialise the whole adjacency again. The loop below keeps that map
    * in the vertex partitions (`state`) and gives the edges only `(estimate, changed)`.
    */
  def coreness(vertices: DataFrame, und: DataFrame): DataFrame = {
    val sc = spark(vertices).sparkContext
    val g0 = undirectedGraph(vertices, und)
    // both directions, so that a vertex's message reaches every neighbour along an out-edge
    val both = g0.edges.flatMap(e => Iterator(Edge(e.srcId, e.dstId, ()), Edge(e.dstId, e.srcId, ())))
    val g1 = Graph(g0.vertices, both, (), StorageLevel.MEMORY_AND_DISK, StorageLevel.MEMORY_AND_DISK)
    var state: VertexRDD[CoreState] = g1.vertices
      .leftJoin(g0.degrees)((_, _, d) => CoreState(d.getOrElse(0), Map.empty, changed = true))
      .cache()
    var g: Graph[(Int, Boolean), Unit] =
      g1.outerJoinVertices(state)((_, _, s) => s.fold((0, false))(st => (st.estimate, st.changed))).cache()
    def hIndex(est: Int, nb: Map[VertexId, Int]): Int = {
      val counts = new Array[Int](est + 1)
      nb.valuesIterator.foreach(e => counts(math.min(e, est)) += 1)
      var k = est
      var atLeast = counts(est)
      while (k > 0 && atLeast < k) { k -= 1; atLeast += counts(k) }
      k
    }
    var step = 0
    var sent = 1L
    while (sent > 0) {
      val msgs = g.aggregateMessages[Map[VertexId, Int]](
        c => if (c.srcAttr._2) c.sendToDst(Map(c.srcId -> c.srcAttr._1)),
        _ ++ _,
        TripletFields.Src
      ).cache()
      sent = msgs.count()
      // a vertex without messages keeps its estimate and does not send next round
      val next = state.leftJoin(msgs) { (_, st, m) =>
        m match {
          case None => if (st.changed) st.copy(changed = false) else st
          case Some(msg) =>
            val nb = st.neighbours ++ msg
            val est = hIndex(st.estimate, nb)
            CoreState(est, nb, changed = est != st.estimate)
        }
      }.cache()
      val nextG = g.outerJoinVertices(next)((_, old, s) => s.fold(old)(st => (st.estimate, st.changed))).cache()
      step += 1
      // the lineage grows by a few RDDs a round; checkpoint it as Pregel would
      if (step % 10 == 0 && sc.getCheckpointDir.nonEmpty) { next.checkpoint(); nextG.checkpoint() }
      next.count()
      nextG.edges.foreachPartition(_ => ())
      msgs.unpersist(blocking = false)
      state.unpersist(blocking = false)
      g.unpersistVertices(blocking = false)
      g.edges.unpersist(blocking = false)
      state = next
      g = nextG
    }
    val rows = state.map { case (v, st) => Row(v, st.estimate.toLong) }
    out(spark(vertices), rows, "vid" -> LongType, "coreness" -> LongType)
  }

  /** Downstream size and depth of each vertex's credited referral subtree, by Pregel.
    *
    * `parents` holds one row per credited referral (`child`, `parent`). Cycles of credits are
    * cut first, as graph/referral.py does: in each cycle (a strongly connected component of
    * more than one vertex) the lowest vertex loses its referrer. Then leaves report upward:
    * a vertex that has heard from all its children sends its size and height to its parent,
    * so the number of rounds is the deepest tree's depth.
    */
  def referralTrees(vertices: DataFrame, parents: DataFrame): DataFrame = {
    val session = spark(vertices)
    val credit = parents.select("child", "parent").rdd.map(r => Edge(r.getLong(0), r.getLong(1), ()))
    val forest = Graph(vertexRdd(vertices), credit, (), StorageLevel.MEMORY_AND_DISK, StorageLevel.MEMORY_AND_DISK)
    val scc = StronglyConnectedComponents.run(forest, Int.MaxValue).vertices
    val compSize = scc.map { case (_, c) => (c, 1L) }.reduceByKey(_ + _)
    // the component id is its lowest vertex: that vertex, in a cycle, loses its referrer
    val cut = compSize.filter(_._2 > 1).map { case (c, _) => (c, ()) }
    val kept = forest.edges.map(e => (e.srcId, e)).leftOuterJoin(cut).filter(_._2._2.isEmpty).map(_._2._1)
    val tree = Graph(vertexRdd(vertices), kept, (), StorageLevel.MEMORY_AND_DISK, StorageLevel.MEMORY_AND_DISK)
    val children = tree.inDegrees
    val init = tree.outerJoinVertices(children)((_, _, c) => TreeState(c.getOrElse(0), 0L, 0, justDone = false))
    val result = Pregel(init, (0, 0L, 0, true), activeDirection = EdgeDirection.Out)(
      (_, st, msg) => {
        val (reported, desc, height, initial) = msg
        if (initial) st.copy(justDone = st.pending == 0)
        else {
          val pending = st.pending - reported
          TreeState(pending, st.descendants + desc, math.max(st.height, height), justDone = pending == 0)
        }
      },
      t =>
        if (t.srcAttr.justDone) Iterator((t.dstId, (1, t.srcAttr.descendants + 1, t.srcAttr.height + 1, false)))
        else Iterator.empty,
      (a, b) => (a._1 + b._1, a._2 + b._2, math.max(a._3, b._3), false)
    )
    val rows = result.vertices.map { case (v, st) => Row(v, st.descendants, st.height.toLong) }
    out(session, rows, "vid" -> LongType, "referral_downstream" -> LongType, "referral_depth" -> LongType)
  }
}

case class CoreState(estimate: Int, neighbours: Map[VertexId, Int], changed: Boolean)

case class TreeState(pending: Int, descendants: Long, height: Int, justDone: Boolean)
