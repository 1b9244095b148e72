import java.util.HashMap;
import java.util.Map;

/**
 * A static map leak for the leak report tests: MapLeak.CACHE (a HashMap) keeps a byte[PAYLOAD] per
 * key until OutOfMemoryError (run with -XX:+HeapDumpOnOutOfMemoryError). PAYLOAD comes from args[0]
 * (the test picks it at random), so the dump's numbers are not known to the code under test.
 */
public class MapLeak {
    static final Map<Integer, byte[]> CACHE = new HashMap<>();

    public static void main(String[] args) {
        int payload = Integer.parseInt(args[0]);
        for (int i = 0; ; i++) {
            CACHE.put(i, new byte[payload]);
        }
    }
}
