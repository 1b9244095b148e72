import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;

/**
 * A heap with known contents, for the triage analysis tests.
 *
 * Usage: java Census N M LENGTH BIG MODE
 *   holds exactly N instances of Census$Item, M arrays Census$Item[LENGTH], one long[BIG] (the largest
 *   object) and a daemon thread "census-worker" parked in park(); prints the instance field types of
 *   Census$Item (its own and inherited, by reflection) and "READY"; then
 *   MODE oom:  allocates 1 MiB byte[] chunks of random bytes in exhaust() until OutOfMemoryError (run
 *              with -XX:+HeapDumpOnOutOfMemoryError);
 *   MODE wait: sleeps until it is stopped (for jcmd GC.heap_dump / GC.class_histogram).
 * The lines marked OOM-LINE and PARK-LINE are where the two threads' stacks are at dump time.
 */
public class Census {
    static class Base {
        int baseCount;
        Object baseRef;
    }

    static class Item extends Base {
        long a;
        int b;
        Object ref;
        byte c;
        boolean d;
        char e;
        short f;
        double g;
        float h;
        static int ignoredStatic;
    }

    static final List<Object> KEPT = new ArrayList<>();
    static final CountDownLatch PARKED = new CountDownLatch(1);

    public static void main(String[] args) throws Exception {
        int n = Integer.parseInt(args[0]);
        int m = Integer.parseInt(args[1]);
        int length = Integer.parseInt(args[2]);
        int big = Integer.parseInt(args[3]);
        String mode = args[4];

        List<String> types = new ArrayList<>();
        for (Class<?> c = Item.class; c != null; c = c.getSuperclass()) {
            for (Field f : c.getDeclaredFields()) {
                if (!Modifier.isStatic(f.getModifiers())) types.add(f.getType().isPrimitive() ? f.getType().getName() : "reference");
            }
        }
        System.out.println("FIELDS " + String.join(",", types));

        List<Item> items = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            Item item = new Item();
            item.a = i;
            item.ref = items;
            items.add(item);
        }
        KEPT.add(items);
        for (int j = 0; j < m; j++) {
            Item[] array = new Item[length];
            array[0] = items.isEmpty() ? null : items.get(j % items.size());
            KEPT.add(array);
        }
        KEPT.add(new long[big]);

        Thread worker = new Thread(Census::park, "census-worker");
        worker.setDaemon(true);
        worker.start();
        PARKED.await();
        System.out.println("READY");

        if (mode.equals("oom")) {
            exhaust();
        } else {
            while (true) {
                Thread.sleep(600_000);
            }
        }
    }

    static void exhaust() {
        List<byte[]> filler = new ArrayList<>(65536); // never grows: the OOM is at OOM-LINE
        while (true) {
            byte[] chunk = new byte[1024 * 1024]; // OOM-LINE
            ThreadLocalRandom.current().nextBytes(chunk);
            filler.add(chunk);
        }
    }

    static void park() {
        PARKED.countDown();
        while (true) {
            try {
                Thread.sleep(600_000); // PARK-LINE
            } catch (InterruptedException e) {
                return;
            }
        }
    }
}
