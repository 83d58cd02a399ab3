// A control-protocol driver (docs/control-protocol.md, version 1) for a PUB/SUB transport
// on JeroMQ, the pure-Java ZeroMQ. One JSON object per line on stdin (requests) and stdout
// (the hello, replies, log events); every request runs on a thread of its own, so a close
// overtakes a receive that waits. Built on the public API of the Debian JeroMQ 0.3.6 (see README.md).

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.locks.ReentrantLock;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.zeromq.ZMQ;
import org.zeromq.ZMQException;

public final class TeaJeroMQDriver {
    static final int PROTOCOL_VERSION = 1;
    static final long NOBLOCK = 1;
    /** How long one blocking receive holds the socket: a close waits at most this long for it. */
    static final int SLICE_MS = 10;

    static final ZMQ.Context CONTEXT = ZMQ.context(1);
    static final Map<Long, JTransport> TRANSPORTS = new ConcurrentHashMap<>();
    /** inproc names bound in this JVM: JeroMQ 0.3.6 lets a second bind take a name silently. */
    static final Set<String> INPROC_BOUND = ConcurrentHashMap.newKeySet();
    static final PrintStream OUT = new PrintStream(new java.io.FileOutputStream(java.io.FileDescriptor.out), false);

    /** A reply's error: a name of the TransportError tree (or TypeError) and a message. */
    static final class Fail extends RuntimeException {
        final String type;

        Fail(String type, String message) {
            super(message);
            this.type = type;
        }
    }

    static synchronized void write(Map<String, Object> message) {
        OUT.print(Json.write(message));
        OUT.print('\n');
        OUT.flush();
    }

    public static void main(String[] args) throws Exception {
        System.setOut(System.err); // a stray println must not break the protocol
        Map<String, Object> caps = new LinkedHashMap<>();
        caps.put("patterns", List.of("pub_sub"));
        caps.put("protocols", List.of("inproc", "tcp"));
        // not "stats": a PUB drops at the high water mark without telling, so hwm_reached could
        // not be observed; nor "subscriber_count", "lossless", "slow_subscriber_warning": all need
        // an XPUB with NODROP, which JeroMQ 0.3.6 has only in its internal API (see README.md)
        caps.put("features", List.of("filtering", "high_water_mark", "linger", "reconnect"));
        caps.put("extra_options", List.of());
        caps.put("addresses", false);
        Map<String, Object> hello = new LinkedHashMap<>();
        hello.put("event", "hello");
        hello.put("protocol", PROTOCOL_VERSION);
        hello.put("name", "java-jeromq");
        hello.put("version", "JeroMQ " + jeromqVersion() + ", Java " + System.getProperty("java.version"));
        hello.put("capabilities", caps);
        hello.put("limits", Map.of());
        write(hello);
        ExecutorService pool = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r);
            t.setDaemon(true);
            return t;
        });
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        while ((line = in.readLine()) != null) {
            Object parsed = Json.parse(line);
            if (!(parsed instanceof Map)) {
                System.err.println("not a request: " + line);
                System.exit(3);
            }
            @SuppressWarnings("unchecked")
            Map<String, Object> request = (Map<String, Object>) parsed;
            pool.execute(() -> handle(request));
        }
        // the suite is gone: close everything, then let the context deliver what lingers
        for (JTransport t : TRANSPORTS.values()) {
            t.close();
        }
        CONTEXT.term();
        System.exit(0);
    }

    static String jeromqVersion() {
        Package p = ZMQ.class.getPackage();
        String v = p == null ? null : p.getImplementationVersion();
        return v == null ? "0.3.x" : v;
    }

    static void handle(Map<String, Object> r) {
        Map<String, Object> reply = new LinkedHashMap<>();
        reply.put("id", r.get("id"));
        try {
            reply.put("ok", perform(r));
        } catch (Fail f) {
            reply.put("error", Map.of("type", f.type, "message", f.getMessage()));
        } catch (RuntimeException e) {
            e.printStackTrace();
            reply.put("error", Map.of("type", e.getClass().getSimpleName(), "message", String.valueOf(e.getMessage())));
        }
        write(reply);
    }

    static Object perform(Map<String, Object> r) {
        Object op = r.get("op");
        if (!(r.get("t") instanceof Long)) {
            throw new Fail("TransportError", "request " + Json.write(r) + " names no transport (\"t\")");
        }
        long id = (Long) r.get("t");
        if ("create".equals(op)) {
            @SuppressWarnings("unchecked")
            Map<String, Object> options = (Map<String, Object>) r.get("options");
            TRANSPORTS.put(id, new JTransport(options));
            return null;
        }
        JTransport t = TRANSPORTS.get(id);
        if (t == null) {
            throw new Fail("TransportError", "no transport " + id + " was created");
        }
        switch (String.valueOf(op)) {
            case "bind": return t.bind(address(r.get("address")));
            case "connect": return t.connect(address(r.get("address")));
            case "send": return t.send(bytes(r.get("data")), flags(r.get("flags")));
            case "send_many": {
                long total = 0;
                for (Object d : (List<?>) r.get("data")) {
                    total += t.send(bytes(d), 0);
                }
                return total;
            }
            case "receive": return b64(t.receive(flags(r.get("flags"))));
            case "receive_many": {
                long flags = flags(r.get("flags"));
                Object max = r.get("max");
                if (!(max instanceof Long) || (Long) max < 1) {
                    throw new Fail("TypeError", "max_messages must be an int >= 1, got " + max);
                }
                List<Object> got = new ArrayList<>();
                got.add(b64(t.receive(flags)));
                while (got.size() < (Long) max) {
                    byte[] more = t.poll();
                    if (more == null) {
                        break;
                    }
                    got.add(b64(more));
                }
                return got;
            }
            case "subscribe": t.subscription(bytes(r.get("prefix")), true); return null;
            case "unsubscribe": t.subscription(bytes(r.get("prefix")), false); return null;
            case "wait_for_subscribers":
                throw new Fail("UnsupportedOperationError",
                        "the JeroMQ transport does not offer wait_for_subscribers(): it does not declare 'subscriber_count'");
            case "get_stats":
                throw new Fail("UnsupportedOperationError",
                        "the JeroMQ transport does not offer get_stats(): it does not declare 'stats'");
            case "is_connected": return t.isConnected();
            case "close": t.close(); return null;
            default: throw new Fail("TransportError", "unknown op " + op);
        }
    }

    static String address(Object value) {
        if (!(value instanceof String)) {
            throw new Fail("TypeError", "an address must be a str, got " + value);
        }
        return (String) value;
    }

    static long flags(Object value) {
        if (!(value instanceof Long)) {
            throw new Fail("TypeError", "flags must be an int, got " + Json.write(value));
        }
        long flags = (Long) value;
        if ((flags & ~NOBLOCK) != 0) {
            throw new Fail("ConfigurationError", "unsupported flags " + flags + ": only NOBLOCK (1) is");
        }
        return flags;
    }

    static byte[] bytes(Object value) {
        return Base64.getDecoder().decode((String) value);
    }

    static String b64(byte[] data) {
        return Base64.getEncoder().encodeToString(data);
    }

    static final Pattern TCP = Pattern.compile("tcp://([^:/]+):(\\*|[0-9]+)");

    /** One end: a PUB socket after bind, a SUB socket after connect. */
    static final class JTransport {
        final long hwm;
        final long linger;
        final Integer receiveTimeout;
        final Set<String> filters = new LinkedHashSet<>(); // base64 of each prefix, in order
        final ReentrantLock lock = new ReentrantLock();
        ZMQ.Socket socket;
        String role;
        String endpoint;
        volatile boolean closed;

        JTransport(Map<String, Object> options) {
            hwm = ((Number) options.get("high_water_mark")).longValue();
            linger = ((Number) options.get("linger")).longValue();
            Object timeout = options.get("receive_timeout");
            receiveTimeout = timeout == null ? null : ((Number) timeout).intValue();
            if (!"drop".equals(options.get("on_hwm"))) {
                throw new Fail("ConfigurationError", "on_hwm=" + Json.write(options.get("on_hwm"))
                        + " is not offered: this transport's PUB socket can only drop (see its README)");
            }
            for (Object p : (List<?>) options.get("subscribe_filter")) {
                filters.add((String) p);
            }
        }

        Fail closedError(String what) {
            return new Fail("TransportClosedError", "cannot " + what
                    + (endpoint == null ? "" : " on " + endpoint) + ": the transport is closed; create a new one");
        }

        String bind(String address) {
            lock.lock();
            try {
                ready("bind()");
                ZMQ.Socket s = CONTEXT.socket(ZMQ.PUB);
                s.setSndHWM(hwm);
                s.setLinger(linger);
                String where = check(address, true);
                try {
                    Matcher m = TCP.matcher(address);
                    if (address.startsWith("inproc://") && !INPROC_BOUND.add(address)) {
                        throw new Fail("AddressInUseError", "cannot bind to " + address
                                + ": another endpoint already listens there; choose another address");
                    }
                    if (m.matches() && m.group(2).equals("*")) {
                        int port = s.bindToRandomPort("tcp://" + m.group(1));
                        where = "tcp://" + m.group(1) + ":" + port;
                    } else {
                        s.bind(address);
                    }
                } catch (Fail f) {
                    s.close();
                    throw f;
                } catch (RuntimeException e) {
                    s.close();
                    INPROC_BOUND.remove(address);
                    throw addressError("bind", address, e);
                }
                socket = s;
                role = "publisher";
                endpoint = where;
                return endpoint;
            } finally {
                lock.unlock();
            }
        }

        String connect(String address) {
            lock.lock();
            try {
                ready("connect()");
                check(address, false);
                ZMQ.Socket s = CONTEXT.socket(ZMQ.SUB);
                s.setRcvHWM(hwm);
                // a SUB sends only subscriptions, through a pipe bounded by its send mark, and
                // replays them all at every (re)connect: unbounded, none is dropped
                s.setSndHWM(0);
                s.setLinger(0); // a subscriber has nothing of the caller's to deliver
                s.setReceiveTimeOut(SLICE_MS);
                for (String p : filters) {
                    s.subscribe(Base64.getDecoder().decode(p));
                }
                try {
                    s.connect(address);
                } catch (RuntimeException e) {
                    s.close();
                    throw addressError("connect", address, e);
                }
                socket = s;
                role = "subscriber";
                endpoint = address;
                return endpoint;
            } finally {
                lock.unlock();
            }
        }

        void ready(String what) {
            if (closed) {
                throw closedError(what);
            }
            if (role != null) {
                throw new Fail("TransportStateError", "cannot " + what + ": the transport is already the "
                        + role + " on " + endpoint + "; create another transport");
            }
        }

        /** The address, refused unless well formed; returns it. */
        String check(String address, boolean bind) {
            String op = bind ? "bind" : "connect";
            if (address.startsWith("inproc://") && address.length() > "inproc://".length()) {
                return address;
            }
            Matcher m = TCP.matcher(address);
            if (m.matches()) {
                if (m.group(2).equals("*")) {
                    if (bind) {
                        return address;
                    }
                } else {
                    long port = Long.parseLong(m.group(2));
                    if (port >= 1 && port <= 65535) {
                        return address;
                    }
                }
            }
            throw new Fail("AddressError", "cannot " + op + " to " + Json.write(address)
                    + ": use tcp://HOST:PORT (PORT 1-65535" + (bind ? " or *" : "") + ") or inproc://NAME"
                    + " (ipc is not offered: JeroMQ 0.3.6 emulates it over loopback TCP)");
        }

        Fail addressError(String op, String address, RuntimeException e) {
            boolean inUse = e instanceof ZMQException
                    && ((ZMQException) e).getErrorCode() == ZMQ.Error.EADDRINUSE.getCode();
            String why = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
            if (inUse || why.contains("Address already in use")) {
                return new Fail("AddressInUseError", "cannot " + op + " to " + address
                        + ": another endpoint already listens there; choose another address");
            }
            return new Fail("AddressError", "cannot " + op + " to " + address + ": " + why);
        }

        long send(byte[] data, long flags) {
            lock.lock();
            try {
                if (closed) {
                    throw closedError("send()");
                }
                if (!"publisher".equals(role)) {
                    throw new Fail("TransportStateError", "cannot send(): only the publisher sends; bind() first"
                            + (role == null ? "" : " (this transport is the " + role + ")"));
                }
                // a PUB socket never blocks: a subscriber whose queue is full misses the message
                socket.send(data, ZMQ.DONTWAIT);
                return data.length;
            } finally {
                lock.unlock();
            }
        }

        /** The next message: waits up to receive_timeout (NOBLOCK: not at all; none: for ever). */
        byte[] receive(long flags) {
            long deadline = (flags & NOBLOCK) != 0 ? 0
                    : receiveTimeout == null ? Long.MAX_VALUE : System.nanoTime() / 1_000_000 + receiveTimeout;
            while (true) {
                lock.lock();
                try {
                    if (closed) {
                        throw closedError("receive()");
                    }
                    if (!"subscriber".equals(role)) {
                        throw new Fail("TransportStateError", "cannot receive(): only the subscriber receives; "
                                + "connect() first" + (role == null ? "" : " (this transport is the " + role + ")"));
                    }
                    byte[] got = deadline == 0 ? socket.recv(ZMQ.DONTWAIT) : socket.recv(0);
                    if (got != null) {
                        return got;
                    }
                } finally {
                    lock.unlock();
                }
                if (System.nanoTime() / 1_000_000 >= deadline) {
                    throw new Fail("TransportTimeoutError", "no message arrived on " + endpoint
                            + (deadline == 0 ? " (NOBLOCK)" : " within receive_timeout=" + receiveTimeout + " ms"));
                }
            }
        }

        /** A message already queued, or null. */
        byte[] poll() {
            try {
                return receive(NOBLOCK);
            } catch (Fail f) {
                if (f.type.equals("TransportTimeoutError")) {
                    return null;
                }
                throw f;
            }
        }

        void subscription(byte[] prefix, boolean on) {
            lock.lock();
            try {
                if (closed || "publisher".equals(role)) {
                    throw closed ? closedError("change subscriptions")
                            : new Fail("TransportStateError", "cannot change subscriptions on the publisher "
                            + endpoint + ": only a subscriber filters");
                }
                String key = b64(prefix);
                if (filters.contains(key) == on) {
                    return; // ZeroMQ counts duplicates; keep one subscription per prefix
                }
                if (socket != null) {
                    if (on) {
                        socket.subscribe(prefix);
                    } else {
                        socket.unsubscribe(prefix);
                    }
                }
                if (on) {
                    filters.add(key);
                } else {
                    filters.remove(key);
                }
            } finally {
                lock.unlock();
            }
        }

        boolean isConnected() {
            return role != null && !closed;
        }

        void close() {
            closed = true; // a receive in progress sees it within one slice
            lock.lock();
            try {
                if (socket != null) {
                    socket.close(); // the context delivers for up to linger ms in the background
                    socket = null;
                    if ("publisher".equals(role)) {
                        INPROC_BOUND.remove(endpoint);
                    }
                }
            } finally {
                lock.unlock();
            }
        }
    }

    /** Just enough JSON for the protocol: objects, arrays, strings, integers, doubles, true/false/null. */
    static final class Json {
        private final String s;
        private int i;

        private Json(String s) {
            this.s = s;
        }

        static Object parse(String text) {
            Json p = new Json(text);
            Object v = p.value();
            p.space();
            if (p.i != text.length()) {
                throw new IllegalArgumentException("trailing characters at " + p.i);
            }
            return v;
        }

        private void space() {
            while (i < s.length() && Character.isWhitespace(s.charAt(i))) {
                i++;
            }
        }

        private Object value() {
            space();
            char c = s.charAt(i);
            if (c == '{') {
                Map<String, Object> m = new LinkedHashMap<>();
                i++;
                space();
                if (s.charAt(i) == '}') {
                    i++;
                    return m;
                }
                while (true) {
                    space();
                    String k = string();
                    space();
                    i++; // ':'
                    m.put(k, value());
                    space();
                    if (s.charAt(i++) == '}') {
                        return m;
                    }
                }
            }
            if (c == '[') {
                List<Object> l = new ArrayList<>();
                i++;
                space();
                if (s.charAt(i) == ']') {
                    i++;
                    return l;
                }
                while (true) {
                    l.add(value());
                    space();
                    if (s.charAt(i++) == ']') {
                        return l;
                    }
                }
            }
            if (c == '"') {
                return string();
            }
            for (String word : new String[] {"true", "false", "null"}) {
                if (s.startsWith(word, i)) {
                    i += word.length();
                    return word.equals("null") ? null : Boolean.valueOf(word.equals("true"));
                }
            }
            int start = i;
            while (i < s.length() && "+-0123456789.eE".indexOf(s.charAt(i)) >= 0) {
                i++;
            }
            String n = s.substring(start, i);
            if (n.isEmpty()) {
                throw new IllegalArgumentException("unexpected " + c + " at " + start);
            }
            return n.matches("-?[0-9]+") ? (Object) Long.valueOf(n) : (Object) Double.valueOf(n);
        }

        private String string() {
            StringBuilder b = new StringBuilder();
            i++; // '"'
            while (true) {
                char c = s.charAt(i++);
                if (c == '"') {
                    return b.toString();
                }
                if (c == '\\') {
                    char e = s.charAt(i++);
                    switch (e) {
                        case 'n': b.append('\n'); break;
                        case 't': b.append('\t'); break;
                        case 'r': b.append('\r'); break;
                        case 'b': b.append('\b'); break;
                        case 'f': b.append('\f'); break;
                        case 'u': b.append((char) Integer.parseInt(s.substring(i, i + 4), 16)); i += 4; break;
                        default: b.append(e);
                    }
                } else {
                    b.append(c);
                }
            }
        }

        static String write(Object v) {
            StringBuilder b = new StringBuilder();
            write(b, v);
            return b.toString();
        }

        private static void write(StringBuilder b, Object v) {
            if (v == null) {
                b.append("null");
            } else if (v instanceof String) {
                b.append('"');
                for (char c : ((String) v).toCharArray()) {
                    if (c == '"' || c == '\\') {
                        b.append('\\').append(c);
                    } else if (c < 0x20) {
                        b.append(String.format("\\u%04x", (int) c));
                    } else {
                        b.append(c);
                    }
                }
                b.append('"');
            } else if (v instanceof Map) {
                b.append('{');
                boolean first = true;
                for (Map.Entry<?, ?> e : ((Map<?, ?>) v).entrySet()) {
                    if (!first) {
                        b.append(',');
                    }
                    first = false;
                    write(b, String.valueOf(e.getKey()));
                    b.append(':');
                    write(b, e.getValue());
                }
                b.append('}');
            } else if (v instanceof List) {
                b.append('[');
                boolean first = true;
                for (Object o : (List<?>) v) {
                    if (!first) {
                        b.append(',');
                    }
                    first = false;
                    write(b, o);
                }
                b.append(']');
            } else {
                b.append(v); // numbers and booleans
            }
        }
    }
}
