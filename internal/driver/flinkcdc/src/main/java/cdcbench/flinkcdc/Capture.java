package cdcbench.flinkcdc;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;

import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.restartstrategy.RestartStrategies;
import org.apache.flink.api.common.time.Time;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.java.tuple.Tuple2;
import org.apache.flink.cdc.connectors.base.options.StartupOptions;
import org.apache.flink.cdc.connectors.postgres.source.PostgresSourceBuilder;
import org.apache.flink.cdc.connectors.shaded.org.apache.kafka.connect.json.JsonConverter;
import org.apache.flink.cdc.connectors.shaded.org.apache.kafka.connect.json.JsonConverterConfig;
import org.apache.flink.cdc.connectors.shaded.org.apache.kafka.connect.source.SourceRecord;
import org.apache.flink.cdc.connectors.shaded.org.apache.kafka.connect.storage.ConverterConfig;
import org.apache.flink.cdc.connectors.shaded.org.apache.kafka.connect.storage.ConverterType;
import org.apache.flink.cdc.debezium.DebeziumDeserializationSchema;
import org.apache.flink.cdc.debezium.JsonDebeziumDeserializationSchema;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.connector.base.DeliveryGuarantee;
import org.apache.flink.connector.kafka.sink.KafkaRecordSerializationSchema;
import org.apache.flink.connector.kafka.sink.KafkaSink;
import org.apache.flink.runtime.jobgraph.SavepointConfigOptions;
import org.apache.flink.streaming.api.CheckpointingMode;
import org.apache.flink.streaming.api.environment.CheckpointConfig;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.util.Collector;
import org.apache.kafka.clients.producer.ProducerRecord;

/**
 * Flink CDC's PostgreSQL source in a local MiniCluster, writing each change
 * event of public.transactions to Kafka as Debezium's JsonConverter writes
 * it in Kafka Connect (key and value, each with its schema), so that the
 * agents read it as they read Debezium's.
 *
 * <p>The source streams only (startup mode committed-offset: from the slot
 * cdcbench created, no snapshot), as the Debezium path does with
 * snapshot.mode=no_data. Checkpoints go to a directory cdcbench names; a
 * start after a kill -9 restores the newest complete one, or, before the
 * first, resumes from the slot's confirmed position, which the source
 * advances only when a checkpoint completes: events since are sent again,
 * none is lost. The Kafka sink is at-least-once: a record is sent when it
 * arrives, not held until a checkpoint as exactly-once would.
 *
 * <p>cdcbench passes every argument; the password comes in a file so that
 * it stays out of the process list.
 */
public final class Capture {
    private Capture() {}

    /**
     * main runs the job until it is killed, and exits 1 when it fails for
     * good (after the restart strategy's attempts), so that cdcbench sees
     * the exit and quotes this log, whatever threads Flink left behind.
     */
    public static void main(String[] argv) {
        try {
            run(argv);
        } catch (Throwable e) {
            System.err.println("cdcbench-flinkcdc: the job failed");
            e.printStackTrace();
            System.exit(1);
        }
    }

    private static void run(String[] argv) throws Exception {
        Map<String, String> a = new HashMap<>();
        Properties dbz = new Properties();
        for (int i = 0; i + 1 < argv.length; i += 2) {
            if (argv[i].equals("--debezium")) {
                String[] kv = argv[i + 1].split("=", 2);
                dbz.setProperty(kv[0], kv[1]);
            } else {
                a.put(argv[i].replaceFirst("^--", ""), argv[i + 1]);
            }
        }
        String password = Files.readString(Path.of(need(a, "password-file")), StandardCharsets.UTF_8).trim();
        long interval = Long.parseLong(need(a, "checkpoint-interval-ms"));
        File checkpoints = new File(need(a, "checkpoint-dir"));

        // cdcbench's settings over the path's debezium.* ones: these make
        // the envelope the agents read (Connect's names and types) and
        // point the source at the objects cdcbench created.
        dbz.setProperty("database.server.name", need(a, "server-name"));
        dbz.setProperty("publication.name", need(a, "publication"));
        dbz.setProperty("publication.autocreate.mode", "disabled");
        dbz.setProperty("decimal.handling.mode", "double");
        dbz.setProperty("tombstones.on.delete", "false");
        if (a.containsKey("key-columns")) {
            dbz.setProperty("message.key.columns", a.get("key-columns"));
        }

        PostgresSourceBuilder.PostgresIncrementalSource<Tuple2<byte[], byte[]>> source =
                PostgresSourceBuilder.PostgresIncrementalSource.<Tuple2<byte[], byte[]>>builder()
                        .hostname(need(a, "host"))
                        .port(Integer.parseInt(need(a, "port")))
                        .database(need(a, "database"))
                        .schemaList("public")
                        .tableList(need(a, "table"))
                        .username(need(a, "user"))
                        .password(password)
                        .slotName(need(a, "slot"))
                        .decodingPluginName("pgoutput")
                        .startupOptions(StartupOptions.committed())
                        .lsnCommitCheckpointsDelay(Integer.parseInt(need(a, "lsn-commit-delay")))
                        .debeziumProperties(dbz)
                        .deserializer(new KeyedJson())
                        .build();

        KafkaSink<Tuple2<byte[], byte[]>> sink = KafkaSink.<Tuple2<byte[], byte[]>>builder()
                .setBootstrapServers(need(a, "brokers"))
                .setRecordSerializer(new ToTopic(need(a, "topic")))
                .setDeliveryGuarantee(DeliveryGuarantee.AT_LEAST_ONCE)
                .build();

        Configuration conf = new Configuration();
        String restore = newestCheckpoint(checkpoints);
        if (restore != null) {
            conf.set(SavepointConfigOptions.SAVEPOINT_PATH, restore);
            System.err.println("cdcbench-flinkcdc: resuming from checkpoint " + new File(restore).getName() + " (" + restore + ")");
        } else {
            System.err.println("cdcbench-flinkcdc: resuming from slot (no checkpoint: its confirmed position)");
        }
        StreamExecutionEnvironment env = StreamExecutionEnvironment.createLocalEnvironment(1, conf);
        env.enableCheckpointing(interval, CheckpointingMode.EXACTLY_ONCE);
        CheckpointConfig cc = env.getCheckpointConfig();
        cc.setCheckpointStorage(checkpoints.toURI().toString());
        cc.setExternalizedCheckpointCleanup(
                CheckpointConfig.ExternalizedCheckpointCleanup.RETAIN_ON_CANCELLATION);
        // A job that cannot reach the database fails the program in
        // seconds, with the cause in its log, instead of restarting forever.
        env.setRestartStrategy(RestartStrategies.fixedDelayRestart(3, Time.seconds(2)));

        env.fromSource(source, WatermarkStrategy.noWatermarks(), "postgres-cdc")
                .uid("postgres-cdc")
                .sinkTo(sink)
                .uid("kafka-sink")
                .name("kafka-sink");
        env.execute("cdcbench-flinkcdc");
    }

    private static String need(Map<String, String> a, String key) {
        String v = a.get(key);
        if (v == null) {
            throw new IllegalArgumentException("cdcbench-flinkcdc: missing --" + key);
        }
        return v;
    }

    /**
     * newestCheckpoint returns the newest complete checkpoint under dir
     * (JOB/chk-N holding _metadata, written last), or null for none. A
     * checkpoint under way when the JVM was killed has no _metadata yet.
     */
    static String newestCheckpoint(File dir) {
        File[] jobs = dir.listFiles(File::isDirectory);
        if (jobs == null) {
            return null;
        }
        File best = null;
        long bestModified = -1;
        for (File job : jobs) {
            File[] chks = job.listFiles(f -> f.isDirectory() && f.getName().startsWith("chk-"));
            if (chks == null) {
                continue;
            }
            for (File chk : chks) {
                File meta = new File(chk, "_metadata");
                if (meta.isFile() && meta.lastModified() > bestModified) {
                    best = chk;
                    bestModified = meta.lastModified();
                }
            }
        }
        return best == null ? null : best.getAbsolutePath();
    }

    /**
     * KeyedJson turns a change event into its Kafka key and value as
     * Connect's JsonConverter with schemas writes them: the value through
     * Flink CDC's JsonDebeziumDeserializationSchema, the key (which that
     * schema drops) through a key converter.
     */
    static final class KeyedJson implements DebeziumDeserializationSchema<Tuple2<byte[], byte[]>> {
        private static final long serialVersionUID = 1L;
        private final JsonDebeziumDeserializationSchema value = new JsonDebeziumDeserializationSchema(true);
        private transient JsonConverter key;

        @Override
        public void deserialize(SourceRecord record, Collector<Tuple2<byte[], byte[]>> out) throws Exception {
            if (key == null) {
                key = new JsonConverter();
                Map<String, Object> c = new HashMap<>();
                c.put(ConverterConfig.TYPE_CONFIG, ConverterType.KEY.getName());
                c.put(JsonConverterConfig.SCHEMAS_ENABLE_CONFIG, true);
                key.configure(c);
            }
            byte[] k = record.key() == null ? null : key.fromConnectData(record.topic(), record.keySchema(), record.key());
            List<String> v = new ArrayList<>(1);
            value.deserialize(record, new Collector<String>() {
                @Override
                public void collect(String s) {
                    v.add(s);
                }

                @Override
                public void close() {}
            });
            for (String s : v) {
                out.collect(Tuple2.of(k, s.getBytes(StandardCharsets.UTF_8)));
            }
        }

        @Override
        public TypeInformation<Tuple2<byte[], byte[]>> getProducedType() {
            return Types.TUPLE(Types.PRIMITIVE_ARRAY(Types.BYTE), Types.PRIMITIVE_ARRAY(Types.BYTE));
        }
    }

    /** ToTopic writes each key and value to the change topic. */
    static final class ToTopic implements KafkaRecordSerializationSchema<Tuple2<byte[], byte[]>> {
        private static final long serialVersionUID = 1L;
        private final String topic;

        ToTopic(String topic) {
            this.topic = topic;
        }

        @Override
        public ProducerRecord<byte[], byte[]> serialize(Tuple2<byte[], byte[]> e, KafkaSinkContext ctx, Long timestamp) {
            return new ProducerRecord<>(topic, e.f0, e.f1);
        }
    }
}
