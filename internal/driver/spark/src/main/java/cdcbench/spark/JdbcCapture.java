package cdcbench.spark;

import java.io.BufferedWriter;
import java.io.IOException;
import java.io.OutputStreamWriter;
import java.lang.management.ManagementFactory;
import java.math.BigDecimal;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.sql.Timestamp;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.apache.spark.sql.DataFrameReader;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;

/**
 * The spark-&lt;interval&gt; path's capture: Apache Spark in local mode polling
 * public.transactions through its JDBC data source, the way a Spark user
 * reads a table incrementally (Spark has no streaming JDBC source): every
 * interval a read of the ids above a high-water mark, partitioned on id, and
 * the rows it returned sent to cdcbench, which hands them to the agents.
 *
 * <p>The high-water mark is the top of the contiguous run of ids read, not
 * the highest id read: the producer's connections commit ids out of order,
 * and a mark past a gap would skip the row that fills it later. Rows above
 * the mark that were already sent are read again (that is the cost of the
 * gap) but not sent again.
 *
 * <p>Arguments: --url JDBC_URL --user USER --app APPLICATION_NAME
 * --interval-ms N --first-id N --sink HOST:PORT [--password-file FILE]
 * [--option KEY=VALUE]...; the URL carries ApplicationName, by which
 * cdcbench finds Spark's backends; the password is read from a file, not
 * the command line that ps shows. Output to the sink, one line each, tab-separated:
 * "ready SESSION_MS" once the SparkSession is up and has read once, then per read that found
 * rows "batch N READ_RETURNED_US ROWS READ_MS" followed by ROWS
 * lines "ID USER_ID AMOUNT_CENTS CARD_TYPE MERCHANT_ID CREATED_US" in id
 * order. A usage error exits 2 with one line on stderr.
 */
public final class JdbcCapture {
    /** The Spark JDBC options a path's settings may set, with defaults. */
    static final Map<String, String> OPTIONS = new LinkedHashMap<>();

    static {
        OPTIONS.put("fetchsize", "1000");
        OPTIONS.put("numPartitions", "1");
    }

    private static final String COLUMNS = "id, user_id, amount, card_type, merchant_id, created_at";

    public static void main(String[] args) throws Exception {
        Args a;
        try {
            a = Args.parse(args);
        } catch (IllegalArgumentException e) {
            System.err.println("cdcbench-spark: " + e.getMessage());
            System.exit(2);
            return;
        }
        long jvmStart = ManagementFactory.getRuntimeMXBean().getStartTime();
        SparkSession spark = SparkSession.builder()
                .appName("cdcbench-" + a.app)
                .master("local[*]")
                .config("spark.ui.enabled", "false")
                .config("spark.sql.session.timeZone", "UTC")
                // Loopback only: local mode needs no address another host reaches.
                .config("spark.driver.bindAddress", "127.0.0.1")
                .config("spark.driver.host", "127.0.0.1")
                .getOrCreate();
        try (Socket sock = new Socket(a.sinkHost, a.sinkPort);
             BufferedWriter out = new BufferedWriter(
                     new OutputStreamWriter(sock.getOutputStream(), StandardCharsets.UTF_8), 1 << 16)) {
            JdbcCapture c = new JdbcCapture(spark, a, out);
            // The first read pays for Spark's first job (scheduler, class
            // loading, code generation): part of the start-up, not of any
            // row's latency.
            c.top();
            out.write("ready\t" + (System.currentTimeMillis() - jvmStart) + "\n");
            out.flush();
            c.run();
        } finally {
            spark.stop();
        }
    }

    private final SparkSession spark;
    private final Args a;
    private final BufferedWriter out;
    /** Every id below next was sent; sent holds those at or above it. */
    private long next;
    private final Set<Long> sent = new HashSet<>();
    private long batch;

    private JdbcCapture(SparkSession spark, Args a, BufferedWriter out) {
        this.spark = spark;
        this.a = a;
        this.out = out;
        this.next = a.firstId;
    }

    /** reader is a JDBC read as the path's settings configure it. */
    private DataFrameReader reader() {
        return spark.read().format("jdbc")
                .option("url", a.url)
                .option("user", a.user)
                .option("password", a.password)
                .option("driver", "org.postgresql.Driver")
                .options(a.options);
    }

    /**
     * run reads every interval, from the start of one read to the start of
     * the next, until cdcbench closes the sink or ends the process.
     */
    private void run() throws IOException, InterruptedException {
        long intervalNs = a.intervalMs * 1_000_000L;
        long due = System.nanoTime();
        while (true) {
            poll();
            due += intervalNs;
            long wait = due - System.nanoTime();
            if (wait > 0) {
                Thread.sleep(wait / 1_000_000L, (int) (wait % 1_000_000L));
            } else {
                due = System.nanoTime(); // behind: read again at once, no catch-up burst
            }
        }
    }

    /** top reads the highest id in the table, or -1 when it is empty. */
    private long top() {
        Row top = reader().option("query", "SELECT max(id) AS top FROM transactions").load().first();
        return top.isNullAt(0) ? -1 : top.getLong(0);
    }

    /** poll is one incremental read: the top id, then the rows up to it. */
    private void poll() throws IOException {
        long t0 = System.nanoTime();
        long hi = top();
        if (hi < next) {
            return;
        }
        int parts = Integer.parseInt(a.options.get("numPartitions"));
        DataFrameReader r = reader().option("dbtable",
                "(SELECT " + COLUMNS + " FROM transactions WHERE id >= " + next + " AND id <= " + hi + ") AS t");
        if (parts > 1) {
            r = r.option("partitionColumn", "id")
                    .option("lowerBound", Long.toString(next))
                    .option("upperBound", Long.toString(hi + 1));
        }
        List<Row> rows = r.load().collectAsList();
        long returnedUs = nowMicros();
        long readMs = (System.nanoTime() - t0) / 1_000_000L;
        List<Row> fresh = new ArrayList<>(rows.size());
        for (Row row : rows) {
            long id = row.getLong(0);
            if (id >= next && sent.add(id)) {
                fresh.add(row);
            }
        }
        while (sent.remove(next)) {
            next++;
        }
        fresh.sort((x, y) -> Long.compare(x.getLong(0), y.getLong(0)));
        batch++;
        out.write("batch\t" + batch + "\t" + returnedUs + "\t" + fresh.size() + "\t" + readMs + "\n");
        StringBuilder b = new StringBuilder(64);
        for (Row row : fresh) {
            b.setLength(0);
            BigDecimal amount = row.getDecimal(2);
            Timestamp created = row.getTimestamp(5);
            long createdUs = Math.floorDiv(created.getTime(), 1000L) * 1_000_000L + created.getNanos() / 1000;
            b.append(row.getLong(0)).append('\t')
                    .append(row.getInt(1)).append('\t')
                    .append(amount.movePointRight(2).longValueExact()).append('\t')
                    .append(row.getString(3)).append('\t')
                    .append(row.getInt(4)).append('\t')
                    .append(createdUs).append('\n');
            out.write(b.toString());
        }
        out.flush();
    }

    private static long nowMicros() {
        java.time.Instant now = java.time.Instant.now();
        return now.getEpochSecond() * 1_000_000L + now.getNano() / 1000;
    }

    /** Args are the command line, checked. */
    static final class Args {
        String url, user, password = "", passwordFile, app, sinkHost;
        int sinkPort;
        long intervalMs, firstId;
        final Map<String, String> options = new LinkedHashMap<>(OPTIONS);

        static Args parse(String[] args) {
            Args a = new Args();
            for (int i = 0; i < args.length; i++) {
                String k = args[i];
                if (i + 1 >= args.length) {
                    throw new IllegalArgumentException(k + " needs a value");
                }
                String v = args[++i];
                switch (k) {
                    case "--url" -> a.url = v;
                    case "--user" -> a.user = v;
                    case "--app" -> a.app = v;
                    case "--password-file" -> a.passwordFile = v;
                    case "--interval-ms" -> a.intervalMs = positive(k, v);
                    case "--first-id" -> a.firstId = Long.parseLong(v);
                    case "--sink" -> {
                        int c = v.lastIndexOf(':');
                        if (c < 0) {
                            throw new IllegalArgumentException("--sink wants HOST:PORT, got " + v);
                        }
                        a.sinkHost = v.substring(0, c);
                        a.sinkPort = Integer.parseInt(v.substring(c + 1));
                    }
                    case "--option" -> {
                        int eq = v.indexOf('=');
                        // Spark reads option names without regard to case.
                        String key = OPTIONS.keySet().stream()
                                .filter(o -> o.equalsIgnoreCase(eq < 0 ? v : v.substring(0, eq)))
                                .findFirst().orElse(null);
                        if (eq < 0 || key == null) {
                            throw new IllegalArgumentException("unknown option " + v + ": the options are " + OPTIONS.keySet());
                        }
                        positive(key, v.substring(eq + 1));
                        a.options.put(key, v.substring(eq + 1));
                    }
                    default -> throw new IllegalArgumentException("unknown argument " + k);
                }
            }
            if (a.url == null || a.user == null || a.app == null || a.sinkHost == null || a.intervalMs == 0) {
                throw new IllegalArgumentException("--url, --user, --app, --interval-ms and --sink are required");
            }
            if (a.passwordFile != null) {
                try {
                    a.password = java.nio.file.Files.readString(java.nio.file.Path.of(a.passwordFile));
                } catch (IOException e) {
                    throw new IllegalArgumentException("--password-file: " + e.getMessage());
                }
            }
            return a;
        }

        private static long positive(String k, String v) {
            long n;
            try {
                n = Long.parseLong(v);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(k + " wants a positive integer, got " + v);
            }
            if (n < 1) {
                throw new IllegalArgumentException(k + " wants a positive integer, got " + v);
            }
            return n;
        }
    }
}
