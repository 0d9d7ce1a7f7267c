package guanxi.neo4j;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.LinkedHashMap;
import java.util.Map;

import org.neo4j.cli.ExecutionContext;
import org.neo4j.commandline.admin.security.SetInitialPasswordCommand;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.graphdb.GraphDatabaseService;
import org.neo4j.server.CommunityBootstrapper;
import org.neo4j.server.NeoBootstrapper;

import picocli.CommandLine;

/**
 * Starts a local Neo4j Community 5.26 server (Bolt + HTTP + Browser) for guanxi.
 *
 * <p>Why this class exists: guanxi's machines reach Maven Central but not the Neo4j download
 * site, so instead of the tarball's {@code bin/neo4j} we run the very same server bootstrapper
 * ({@link CommunityBootstrapper}, what {@code CommunityEntryPoint} runs) from Maven jars.
 *
 * <p>Usage:
 *
 * <pre>
 * java [Neo4j JVM flags] -cp 'guanxi-neo4j-server.jar:lib/*' guanxi.neo4j.Main \
 *     --home DIR --bolt-port 7687 --http-port 7474 (--password-file F | --password P) \
 *     [--plugins DIR] [--pagecache 512m]
 * </pre>
 *
 * <p>Layout under {@code DIR} (fixed, so data survives stop/start): {@code conf/neo4j.conf} and
 * {@code conf/user-logs.xml} (rewritten on every start), {@code data/} (databases, transactions,
 * {@code dbms/auth.ini}), {@code logs/} (neo4j.log, debug.log, http.log, query.log),
 * {@code run/neo4j.pid}, {@code run/ready} (JSON, written once Bolt and HTTP listen and the
 * password is in place; removed on shutdown).
 *
 * <p>The password is set the way {@code neo4j-admin dbms set-initial-password} does it (auth.ini
 * read when the system database is created), so the server never listens with the default
 * {@code neo4j/neo4j} credentials. On later starts, if the given password differs from the
 * stored one, it is changed through the embedded API before the ready file is written.
 */
public final class Main {

    private Main() {}

    /**
     * Neo4j's embedded default-user-logs.xml without its console appender: the launcher sends
     * stdout/stderr to logs/console.log (JVM errors, this class's messages), so each line of
     * the user log is written once, to the rolled logs/neo4j.log.
     */
    private static final String USER_LOGS_XML = """
            <?xml version="1.0" encoding="UTF-8"?>
            <!-- Written by guanxi.neo4j.Main on every start. -->
            <Configuration>
                <Appenders>
                    <RollingRandomAccessFile name="RollingFile"
                            fileName="${config:server.directories.logs}/neo4j.log"
                            filePattern="$${config:server.directories.logs}/neo4j.log.%02i">
                        <PatternLayout pattern="%d{yyyy-MM-dd HH:mm:ss.SSSZ}{GMT+0} %-5p %m%n"/>
                        <Policies><SizeBasedTriggeringPolicy size="20 MB"/></Policies>
                        <DefaultRolloverStrategy fileIndex="min" max="5"/>
                    </RollingRandomAccessFile>
                </Appenders>
                <Loggers>
                    <Root level="info"><AppenderRef ref="RollingFile"/></Root>
                </Loggers>
            </Configuration>
            """;

    public static void main(String[] argv) throws Exception {
        Map<String, String> args = parseArgs(argv);
        Path home = Path.of(require(args, "home")).toAbsolutePath().normalize();
        int boltPort = Integer.parseInt(require(args, "bolt-port"));
        int httpPort = Integer.parseInt(require(args, "http-port"));
        String password = readPassword(args);
        if (password.length() < 8) {
            fail("the password must have at least 8 characters (Neo4j 5 refuses shorter ones)");
        }

        Path conf = home.resolve("conf");
        Path data = home.resolve("data");
        Path logs = home.resolve("logs");
        Path run = home.resolve("run");
        Path plugins = args.containsKey("plugins")
                ? Path.of(args.get("plugins")).toAbsolutePath().normalize()
                : home.resolve("plugins");
        for (Path p : new Path[] {conf, data, logs, run, plugins, home.resolve("import")}) {
            Files.createDirectories(p);
        }
        Path ready = run.resolve("ready");
        Files.deleteIfExists(ready);

        Map<String, String> settings = settings(home, boltPort, httpPort, plugins,
                args.getOrDefault("pagecache", "512m"));
        Path confFile = conf.resolve("neo4j.conf");
        writeConf(confFile, settings);
        Files.writeString(conf.resolve("user-logs.xml"), USER_LOGS_XML, StandardCharsets.UTF_8);

        boolean firstStart = !Files.exists(data.resolve("databases").resolve("system"));
        if (firstStart) {
            setInitialPassword(home, conf, password);
        }

        NeoBootstrapper bootstrapper = new CommunityBootstrapper();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                Files.deleteIfExists(ready);
            } catch (IOException ignored) {
                // nothing useful to do while the JVM exits
            }
        }, "guanxi-ready-file-cleanup"));

        // Registers Neo4j's own SIGTERM/SIGINT handlers and shutdown hook: SIGTERM -> clean stop.
        int status = bootstrapper.start(home, confFile, Map.of(), false, false);
        if (status != NeoBootstrapper.OK) {
            System.err.println("guanxi: Neo4j failed to start (status " + status + "), see "
                    + logs.resolve("debug.log"));
            System.exit(status);
        }

        if (!firstStart) {
            ensurePassword(bootstrapper.getDatabaseManagementService(), password);
        }

        String info = "{\"pid\": " + ProcessHandle.current().pid()
                + ", \"bolt_port\": " + boltPort
                + ", \"http_port\": " + httpPort
                + ", \"neo4j_version\": \"" + org.neo4j.kernel.internal.Version.getNeo4jVersion()
                + "\"}\n";
        Path tmp = run.resolve("ready.tmp");
        Files.writeString(tmp, info, StandardCharsets.UTF_8);
        Files.move(tmp, ready, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        System.out.println("guanxi: Neo4j ready, bolt://127.0.0.1:" + boltPort
                + " http://127.0.0.1:" + httpPort + "/browser/");
        // main returns; Neo4j's non-daemon threads keep the JVM alive until SIGTERM.
    }

    /** The neo4j.conf content: every value guanxi depends on is pinned here, nothing inherited. */
    static Map<String, String> settings(Path home, int boltPort, int httpPort, Path plugins,
            String pagecache) {
        Map<String, String> s = new LinkedHashMap<>();
        s.put("server.directories.data", home.resolve("data").toString());
        s.put("server.directories.logs", home.resolve("logs").toString());
        s.put("server.directories.run", home.resolve("run").toString());
        s.put("server.directories.plugins", plugins.toString());
        s.put("server.directories.import", home.resolve("import").toString());
        // Local only: nothing listens on other interfaces.
        s.put("server.default_listen_address", "127.0.0.1");
        s.put("server.default_advertised_address", "127.0.0.1");
        s.put("server.bolt.enabled", "true");
        s.put("server.bolt.listen_address", "127.0.0.1:" + boltPort);
        s.put("server.bolt.advertised_address", "127.0.0.1:" + boltPort);
        s.put("server.bolt.tls_level", "DISABLED");
        s.put("server.http.enabled", "true");
        s.put("server.http.listen_address", "127.0.0.1:" + httpPort);
        s.put("server.http.advertised_address", "127.0.0.1:" + httpPort);
        s.put("server.https.enabled", "false");
        s.put("dbms.security.auth_enabled", "true");
        // Closed network, and no phoning home from a developer's or CI's machine.
        s.put("dbms.usage_report.enabled", "false");
        // GDS procedures need unrestricted access. The allowlist only filters plugin procedures
        // (built-in db.*/dbms.* stay); apoc.* is listed so a dropped-in APOC jar also loads.
        s.put("dbms.security.procedures.unrestricted", "gds.*");
        s.put("dbms.security.procedures.allowlist", "gds.*,apoc.*");
        // Neo4j writes logs/neo4j.log itself (rolled at 20 MB); no copy on stdout.
        s.put("server.logs.user.config", home.resolve("conf").resolve("user-logs.xml").toString());
        // Modest page cache: the JVM heap is set by the launcher (-Xmx).
        s.put("server.memory.pagecache.size", pagecache);
        // Keep transaction logs small on a developer's disk.
        s.put("db.tx_log.rotation.retention_policy", "2 files");
        // A stop waits out the quiet period of each Bolt event loop group, one after the
        // other, after every connection is closed and the databases checkpointed: nothing is
        // left to drain then, and a bulk import (stop, import, start) need not wait for it.
        s.put("internal.dbms.bolt.netty_server_shutdown_quiet_period", "0");
        return s;
    }

    private static void writeConf(Path file, Map<String, String> settings) throws IOException {
        StringBuilder sb = new StringBuilder(
                "# Written by guanxi.neo4j.Main on every start; edits here are overwritten.\n");
        settings.forEach((k, v) -> sb.append(k).append('=').append(v).append('\n'));
        Files.writeString(file, sb.toString(), StandardCharsets.UTF_8);
    }

    /** Same as `neo4j-admin dbms set-initial-password`: writes data/dbms/auth.ini. */
    private static void setInitialPassword(Path home, Path conf, String password) {
        ExecutionContext ctx = new ExecutionContext(home, conf);
        int rc = new CommandLine(new SetInitialPasswordCommand(ctx)).execute(password);
        if (rc != 0) {
            fail("setting the initial password failed (exit " + rc + ")");
        }
    }

    /** Later starts: align the stored password with the one given (no-op when equal). */
    private static void ensurePassword(DatabaseManagementService dbms, String password) {
        GraphDatabaseService system = dbms.database("system");
        try {
            system.executeTransactionally(
                    "ALTER USER neo4j SET PASSWORD $pw CHANGE NOT REQUIRED", Map.of("pw", password));
            System.out.println("guanxi: password of user neo4j updated");
        } catch (RuntimeException e) {
            String msg = String.valueOf(e.getMessage());
            if (!msg.contains("cannot be the same")) {
                throw e;
            }
        }
    }

    private static String readPassword(Map<String, String> args) throws IOException {
        if (args.containsKey("password-file")) {
            return Files.readString(Path.of(args.get("password-file")), StandardCharsets.UTF_8)
                    .strip();
        }
        if (args.containsKey("password")) {
            return args.get("password");
        }
        String env = System.getenv("NEO4J_PASSWORD");
        if (env != null && !env.isEmpty()) {
            return env;
        }
        fail("give --password-file, --password or env NEO4J_PASSWORD");
        return null;
    }

    private static Map<String, String> parseArgs(String[] argv) {
        Map<String, String> out = new LinkedHashMap<>();
        for (int i = 0; i < argv.length; i++) {
            String a = argv[i];
            if (!a.startsWith("--")) {
                fail("unexpected argument " + a);
            }
            String key = a.substring(2);
            String value;
            int eq = key.indexOf('=');
            if (eq >= 0) {
                value = key.substring(eq + 1);
                key = key.substring(0, eq);
            } else if (i + 1 < argv.length) {
                value = argv[++i];
            } else {
                fail("missing value for " + a);
                return out;
            }
            out.put(key, value);
        }
        return out;
    }

    private static String require(Map<String, String> args, String key) {
        String v = args.get(key);
        if (v == null || v.isEmpty()) {
            fail("missing --" + key);
        }
        return v;
    }

    private static void fail(String message) {
        System.err.println("guanxi.neo4j.Main: " + message);
        System.exit(2);
    }
}
