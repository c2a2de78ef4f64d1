// Creates missing topics: java -cp <kafka jars>:<dir> Topics <bootstrap> name:partitions ...
import java.util.*;
import org.apache.kafka.clients.admin.*;

public class Topics {
    public static void main(String[] args) throws Exception {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
        try (Admin admin = Admin.create(p)) {
            Set<String> existing = admin.listTopics().names().get();
            List<NewTopic> missing = new ArrayList<>();
            for (int i = 1; i < args.length; i++) {
                String[] nv = args[i].split(":");
                if (!existing.contains(nv[0]))
                    missing.add(new NewTopic(nv[0], Integer.parseInt(nv[1]), (short) 1));
            }
            if (!missing.isEmpty())
                admin.createTopics(missing).all().get();
            System.out.println("topics created: " + missing.size());
        }
    }
}
