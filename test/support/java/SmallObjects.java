/**
 * A heap dominated by small objects, for the analysis benchmark: a linked list of nodes, each with its
 * own short String (node + String + byte[]: three objects per node), grown until OutOfMemoryError
 * (run with -XX:+HeapDumpOnOutOfMemoryError; with -Xmx256m about ten million objects).
 */
public class SmallObjects {
    static final class Node {
        final Node next;
        final int id;
        final String label;

        Node(Node next, int id) {
            this.next = next;
            this.id = id;
            this.label = Integer.toString(id);
        }
    }

    static Node head;

    public static void main(String[] args) {
        for (int i = 0; ; i++) {
            head = new Node(head, i);
        }
    }
}
