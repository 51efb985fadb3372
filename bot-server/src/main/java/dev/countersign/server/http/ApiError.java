package dev.countersign.server.http;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.countersign.core.store.Json;

/** An error answer: {@code {"error": {"code", "message", "field"}}}. Never a stack trace. */
final class ApiError extends RuntimeException {
    final int status;
    final String code;
    final String field;
    final ObjectNode extra;

    ApiError(int status, String code, String message, String field) {
        this(status, code, message, field, null);
    }

    ApiError(int status, String code, String message, String field, ObjectNode extra) {
        super(message, null, false, false);
        this.status = status;
        this.code = code;
        this.field = field;
        this.extra = extra;
    }

    String body() {
        return body(code, getMessage(), field, extra);
    }

    static String body(String code, String message, String field, ObjectNode extra) {
        ObjectNode root = Json.MAPPER.createObjectNode();
        ObjectNode e = root.putObject("error");
        e.put("code", code);
        e.put("message", message);
        if (field != null) e.put("field", field);
        if (extra != null) extra.fields().forEachRemaining(f -> e.set(f.getKey(), f.getValue()));
        return root.toString();
    }
}
