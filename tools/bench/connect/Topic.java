// Creates or deletes one topic for tools/bench/connect-baseline (run as a single-file source program):
//   java -cp '<kafka jars>/*' Topic.java <bootstrap> create <name> <partitions>
//   java -cp '<kafka jars>/*' Topic.java <bootstrap> delete <name>
import java.util.*;
import org.apache.kafka.clients.admin.*;

public class Topic {
    public static void main(String[] args) throws Exception {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
        try (Admin admin = Admin.create(p)) {
            switch (args[1]) {
                case "create" -> admin.createTopics(List.of(new NewTopic(args[2], Integer.parseInt(args[3]), (short) 1))).all().get();
                case "delete" -> admin.deleteTopics(List.of(args[2])).all().get();
                default -> throw new IllegalArgumentException("create or delete");
            }
        }
    }
}
