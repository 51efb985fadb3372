package dev.countersign.mcp;

import io.modelcontextprotocol.spec.McpSchema.CallToolResult;

/** Tool results the gateway makes itself. */
final class Results {
    private Results() {
    }

    /** A tool error result ({@code isError: true}): what the model reads instead of a protocol error. */
    static CallToolResult error(String text) {
        return CallToolResult.builder().addTextContent(text).isError(true).build();
    }

    static CallToolResult text(String text) {
        return CallToolResult.builder().addTextContent(text).isError(false).build();
    }
}
