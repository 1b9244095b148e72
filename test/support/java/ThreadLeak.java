import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.locks.LockSupport;

/**
 * A leak held by a thread's local variable, for the leak report tests: a thread named args[0] allocates
 * long[args[1]] in a local variable and parks while using it; then main runs out of memory with garbage
 * it drops as it goes (one big allocation that cannot fit), so that the local array is the heap's
 * biggest retained object.
 */
public class ThreadLeak {
    public static void main(String[] args) throws Exception {
        String name = args[0];
        int longs = Integer.parseInt(args[1]);
        CountDownLatch ready = new CountDownLatch(1);
        Thread t = new Thread(() -> hold(longs, ready), name);
        t.setDaemon(true);
        t.start();
        ready.await();
        // the dump must find the thread parked in hold(), its array a local of that frame: not on its way
        // there inside countDown() (one CI run's dump had the array unreachable; not reproduced since)
        while (t.getState() != Thread.State.TIMED_WAITING) Thread.onSpinWait();
        List<long[]> tooBig = new ArrayList<>();
        tooBig.add(new long[Integer.MAX_VALUE / 2]); // -> OutOfMemoryError: Java heap space
        System.out.println(tooBig.size());
    }

    static void hold(int longs, CountDownLatch ready) {
        long[] big = new long[longs];
        big[longs - 1] = 42;
        ready.countDown();
        while (big[longs - 1] == 42) {
            LockSupport.parkNanos(1_000_000_000L);
        }
        System.out.println(big.length);
    }
}
