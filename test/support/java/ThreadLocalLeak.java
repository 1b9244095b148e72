import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.locks.LockSupport;

/**
 * A ThreadLocal leak for the leak report tests: a thread named args[0] sets args[1] ThreadLocals to a
 * byte[args[2]] each and parks: the values live as long as the thread (Thread.threadLocals). Then
 * main runs out of memory with one allocation that cannot fit.
 */
public class ThreadLocalLeak {
    static final List<ThreadLocal<byte[]>> LOCALS = new ArrayList<>();

    public static void main(String[] args) throws Exception {
        String name = args[0];
        int count = Integer.parseInt(args[1]);
        int size = Integer.parseInt(args[2]);
        for (int i = 0; i < count; i++) LOCALS.add(new ThreadLocal<>());
        CountDownLatch ready = new CountDownLatch(1);
        Thread t = new Thread(() -> {
            for (ThreadLocal<byte[]> l : LOCALS) l.set(new byte[size]);
            ready.countDown();
            while (true) LockSupport.parkNanos(1_000_000_000L);
        }, name);
        t.setDaemon(true);
        t.start();
        ready.await();
        long[] tooBig = new long[Integer.MAX_VALUE / 2]; // -> OutOfMemoryError: Java heap space
        System.out.println(tooBig.length);
    }
}
