// The stack's topics, through the Kafka admin client (tools/dev up and reset-log run it):
//
//   java -cp <kafka jars>:<dir> Topics <bootstrap> ensure [--legacy-if-data t1,t2,...] spec...
//   java -cp <kafka jars>:<dir> Topics <bootstrap> delete [--dry-run] name...
//
// A spec is name:partitions[:key=value,key=value...] (values hold no commas).
//
// ensure: creates the missing topics with their configurations; on existing topics it sets the named
// configurations that differ (IncrementalAlterConfigs SET, so other overrides stay) and raises the
// partition count of an empty topic. It changes nothing and exits 3, with one "layout: ..." line per
// topic on stdout, when a topic cannot take the layout in place: more partitions than the spec, fewer
// while it holds messages (more partitions would move its keys), or, for the topics named by
// --legacy-if-data, any message at all (written under an older keying).
//
// delete: deletes the consumer groups that have committed offsets on the named topics, then the topics,
// and prints what went (messages per topic, groups); a group with members stops it (exit 4) before it
// deletes anything. --dry-run prints the same and changes nothing.
import java.util.*;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.errors.TopicExistsException;

public class Topics {
    record Spec(String name, int partitions, Map<String, String> configs) {
        static Spec parse(String s) {
            String[] f = s.split(":", 3);
            if (f.length < 2)
                throw new IllegalArgumentException("spec '" + s + "': name:partitions[:key=value,...]");
            Map<String, String> c = new LinkedHashMap<>();
            if (f.length == 3 && !f[2].isEmpty())
                for (String kv : f[2].split(",")) {
                    int eq = kv.indexOf('=');
                    if (eq <= 0)
                        throw new IllegalArgumentException("spec '" + s + "': bad configuration '" + kv + "'");
                    c.put(kv.substring(0, eq), kv.substring(eq + 1));
                }
            return new Spec(f[0], Integer.parseInt(f[1]), c);
        }
    }

    public static void main(String[] args) throws Exception {
        if (args.length < 2) {
            System.err.println("usage: Topics <bootstrap> ensure [--legacy-if-data t1,t2] spec... | delete [--dry-run] name...");
            System.exit(2);
        }
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "30000");
        List<String> rest = new ArrayList<>(Arrays.asList(args).subList(2, args.length));
        try (Admin admin = Admin.create(p)) {
            switch (args[1]) {
                case "ensure" -> System.exit(ensure(admin, rest));
                case "delete" -> System.exit(delete(admin, rest));
                default -> { System.err.println("Topics: unknown command " + args[1]); System.exit(2); }
            }
        }
    }

    /** Messages now held per topic (end - start offsets over its partitions). */
    static Map<String, Long> messages(Admin admin, Map<String, Integer> partitions) throws Exception {
        Map<TopicPartition, OffsetSpec> lo = new HashMap<>(), hi = new HashMap<>();
        partitions.forEach((t, n) -> {
            for (int i = 0; i < n; i++) {
                lo.put(new TopicPartition(t, i), OffsetSpec.earliest());
                hi.put(new TopicPartition(t, i), OffsetSpec.latest());
            }
        });
        Map<String, Long> out = new TreeMap<>();
        partitions.keySet().forEach(t -> out.put(t, 0L));
        if (lo.isEmpty())
            return out;
        var start = admin.listOffsets(lo).all().get();
        var end = admin.listOffsets(hi).all().get();
        for (var e : end.entrySet())
            out.merge(e.getKey().topic(), e.getValue().offset() - start.get(e.getKey()).offset(), Long::sum);
        return out;
    }

    static Map<String, Integer> partitionCounts(Admin admin, Collection<String> topics) throws Exception {
        Map<String, Integer> out = new TreeMap<>();
        if (topics.isEmpty())
            return out;
        for (var e : admin.describeTopics(topics).allTopicNames().get().entrySet())
            out.put(e.getKey(), e.getValue().partitions().size());
        return out;
    }

    static int ensure(Admin admin, List<String> args) throws Exception {
        Set<String> legacy = new HashSet<>();
        List<Spec> specs = new ArrayList<>();
        for (int i = 0; i < args.size(); i++) {
            if (args.get(i).equals("--legacy-if-data")) {
                legacy.addAll(Arrays.asList(args.get(++i).split(",")));
                continue;
            }
            specs.add(Spec.parse(args.get(i)));
        }
        Set<String> existing = admin.listTopics().names().get();
        List<String> present = specs.stream().map(Spec::name).filter(existing::contains).toList();
        Map<String, Integer> have = partitionCounts(admin, present);
        Map<String, Long> held = messages(admin, have);

        List<String> problems = new ArrayList<>();
        Map<String, NewPartitions> raise = new TreeMap<>();
        for (Spec s : specs) {
            if (!have.containsKey(s.name()))
                continue;
            int n = have.get(s.name());
            long m = held.get(s.name());
            if (legacy.contains(s.name()) && m > 0)
                problems.add("layout: " + s.name() + " holds " + m + " messages written before this topic layout");
            else if (n > s.partitions())
                problems.add("layout: " + s.name() + " has " + n + " partitions, the layout has " + s.partitions());
            else if (n < s.partitions() && m > 0)
                problems.add("layout: " + s.name() + " has " + n + " partitions (the layout has " + s.partitions()
                        + ") and holds " + m + " messages; more partitions would move its keys");
            else if (n < s.partitions())
                raise.put(s.name(), NewPartitions.increaseTo(s.partitions()));
        }
        if (!problems.isEmpty()) {
            problems.forEach(System.out::println);
            return 3;
        }

        int created = 0;
        for (Spec s : specs) {
            if (have.containsKey(s.name()))
                continue;
            NewTopic nt = new NewTopic(s.name(), s.partitions(), (short) 1).configs(s.configs());
            try {
                admin.createTopics(List.of(nt)).all().get();
                created++;
            } catch (ExecutionException e) {
                if (!(e.getCause() instanceof TopicExistsException))
                    throw e;
                System.out.println("exists " + s.name() + " (made meanwhile: its configurations are set on the next run)");
                continue;
            }
            System.out.println("created " + s.name() + " (" + s.partitions() + " partitions" +
                    (s.configs().isEmpty() ? "" : ", " + s.configs()) + ")");
        }
        if (!raise.isEmpty()) {
            admin.createPartitions(raise).all().get();
            raise.forEach((t, np) -> System.out.println("raised " + t + " from " + have.get(t) + " to " +
                    np.totalCount() + " partitions (it held no messages)"));
        }

        // Configurations of the topics that were there already.
        Map<ConfigResource, Spec> res = new LinkedHashMap<>();
        for (Spec s : specs)
            if (have.containsKey(s.name()) && !s.configs().isEmpty())
                res.put(new ConfigResource(ConfigResource.Type.TOPIC, s.name()), s);
        int set = 0;
        if (!res.isEmpty()) {
            Map<ConfigResource, Config> cur = admin.describeConfigs(res.keySet()).all().get();
            Map<ConfigResource, Collection<AlterConfigOp>> ops = new LinkedHashMap<>();
            for (var e : res.entrySet()) {
                Config c = cur.get(e.getKey());
                for (var kv : e.getValue().configs().entrySet()) {
                    // a value the topic only inherits (the broker's default) is set on the topic all the same,
                    // so that a later broker default cannot change it
                    ConfigEntry ce = c.get(kv.getKey());
                    String was = ce == null ? null : ce.value();
                    boolean own = ce != null && ce.source() == ConfigEntry.ConfigSource.DYNAMIC_TOPIC_CONFIG;
                    if (own && kv.getValue().equals(was))
                        continue;
                    if (!own)
                        was = was + ", inherited";
                    ops.computeIfAbsent(e.getKey(), k -> new ArrayList<>())
                            .add(new AlterConfigOp(new ConfigEntry(kv.getKey(), kv.getValue()), AlterConfigOp.OpType.SET));
                    System.out.println("set " + e.getKey().name() + " " + kv.getKey() + "=" + kv.getValue() + " (was " + was + ")");
                    set++;
                }
            }
            if (!ops.isEmpty())
                admin.incrementalAlterConfigs(ops).all().get();
        }
        System.out.println("topics: " + created + " created, " + raise.size() + " raised, " + set + " configurations set");
        return 0;
    }

    static int delete(Admin admin, List<String> args) throws Exception {
        boolean dry = args.remove("--dry-run");
        Set<String> existing = admin.listTopics().names().get();
        List<String> topics = args.stream().filter(existing::contains).toList();
        Map<String, Long> held = messages(admin, partitionCounts(admin, topics));

        Set<String> wanted = new HashSet<>(topics);
        List<String> groups = new ArrayList<>();
        List<String> busy = new ArrayList<>();
        for (ConsumerGroupListing g : admin.listConsumerGroups().all().get()) {
            var offs = admin.listConsumerGroupOffsets(g.groupId()).partitionsToOffsetAndMetadata().get();
            if (offs.keySet().stream().noneMatch(tp -> wanted.contains(tp.topic())))
                continue;
            var d = admin.describeConsumerGroups(List.of(g.groupId())).all().get().get(g.groupId());
            (d.members().isEmpty() ? groups : busy).add(g.groupId());
        }
        Collections.sort(groups);
        if (!busy.isEmpty() && !dry) {
            System.out.println("consumer groups with members: " + busy + " (stop those consumers first); nothing deleted");
            return 4;
        }
        groups.addAll(busy);
        for (var e : held.entrySet())
            System.out.println((dry ? "would delete topic " : "deleted topic ") + e.getKey() + " (" + e.getValue() + " messages)");
        for (String g : groups)
            System.out.println((dry ? "would delete consumer group " : "deleted consumer group ") + g + " (its committed offsets)");
        if (dry)
            return 0;
        if (!groups.isEmpty())
            admin.deleteConsumerGroups(groups).all().get();
        if (!topics.isEmpty())
            admin.deleteTopics(topics).all().get();
        for (int i = 0; i < 200; i++) { // deletion is asynchronous: wait until the names are gone
            Set<String> now = admin.listTopics().names().get();
            if (topics.stream().noneMatch(now::contains))
                break;
            Thread.sleep(100);
        }
        return 0;
    }
}
