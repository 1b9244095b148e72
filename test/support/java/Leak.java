import java.util.ArrayList;
import java.util.List;

/** Keeps allocating 256 KiB byte arrays until the heap is full: an OutOfMemoryError and, with the flags, a heap dump. */
public class Leak {
    public static void main(String[] args) {
        List<byte[]> kept = new ArrayList<>();
        for (int i = 0; ; i++) {
            byte[] chunk = new byte[256 * 1024];
            chunk[i % chunk.length] = (byte) i; // not all zeros
            kept.add(chunk);
        }
    }
}
