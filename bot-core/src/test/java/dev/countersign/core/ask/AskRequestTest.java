package dev.countersign.core.ask;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.countersign.core.InvalidInputException;
import dev.countersign.core.approval.AskContext;
import dev.countersign.core.approval.RiskLevel;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

class AskRequestTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String AGENT = "billing-bot";
    private static final String OK_ACTION = "\"action\": {\"type\": \"payments.transfer\", \"summary\": \"Pay ACME\"}";

    static Stream<Arguments> malformedAsks() {
        return Stream.of(
                // the body
                Arguments.of("a body that is an array", "[]", ""),
                Arguments.of("a body that is a string", "\"pay\"", ""),
                Arguments.of("a body that is a number", "42", ""),
                Arguments.of("a body that is null", "null", ""),
                // action
                Arguments.of("no action", "{}", "action"),
                Arguments.of("a null action", "{\"action\": null}", "action"),
                Arguments.of("an action that is a string", "{\"action\": \"payments.transfer\"}", "action"),
                Arguments.of("an action that is an array", "{\"action\": []}", "action"),
                // action.type
                Arguments.of("no action.type", "{\"action\": {\"summary\": \"Pay\"}}", "action.type"),
                Arguments.of("a blank action.type", "{\"action\": {\"type\": \"   \", \"summary\": \"Pay\"}}", "action.type"),
                Arguments.of("an empty action.type", "{\"action\": {\"type\": \"\", \"summary\": \"Pay\"}}", "action.type"),
                Arguments.of("a numeric action.type", "{\"action\": {\"type\": 42, \"summary\": \"Pay\"}}", "action.type"),
                Arguments.of("an object action.type", "{\"action\": {\"type\": {\"name\": \"pay\"}, \"summary\": \"Pay\"}}", "action.type"),
                Arguments.of("a double dot in action.type", "{\"action\": {\"type\": \"payments..transfer\", \"summary\": \"Pay\"}}", "action.type"),
                Arguments.of("a leading dot in action.type", "{\"action\": {\"type\": \".payments\", \"summary\": \"Pay\"}}", "action.type"),
                Arguments.of("a trailing dot in action.type", "{\"action\": {\"type\": \"payments.\", \"summary\": \"Pay\"}}", "action.type"),
                Arguments.of("a space in action.type", "{\"action\": {\"type\": \"payments transfer\", \"summary\": \"Pay\"}}", "action.type"),
                Arguments.of("a slash in action.type", "{\"action\": {\"type\": \"payments/transfer\", \"summary\": \"Pay\"}}", "action.type"),
                Arguments.of("an action.type of 201 characters",
                        "{\"action\": {\"type\": \"" + "a".repeat(201) + "\", \"summary\": \"Pay\"}}", "action.type"),
                // action.summary
                Arguments.of("no action.summary", "{\"action\": {\"type\": \"payments.transfer\"}}", "action.summary"),
                Arguments.of("a blank action.summary", "{\"action\": {\"type\": \"payments.transfer\", \"summary\": \" \"}}", "action.summary"),
                Arguments.of("a numeric action.summary", "{\"action\": {\"type\": \"payments.transfer\", \"summary\": 7}}", "action.summary"),
                Arguments.of("an action.summary of 3001 characters",
                        "{\"action\": {\"type\": \"payments.transfer\", \"summary\": \"" + "s".repeat(3001) + "\"}}", "action.summary"),
                // action.params
                Arguments.of("params that are an array",
                        "{\"action\": {\"type\": \"payments.transfer\", \"summary\": \"Pay\", \"params\": [1, 2]}}", "action.params"),
                Arguments.of("params that are a string",
                        "{\"action\": {\"type\": \"payments.transfer\", \"summary\": \"Pay\", \"params\": \"amount=5\"}}", "action.params"),
                // agent
                Arguments.of("an agent.id of another agent", "{" + OK_ACTION + ", \"agent\": {\"id\": \"ops-bot\"}}", "agent.id"),
                Arguments.of("a numeric agent.id", "{" + OK_ACTION + ", \"agent\": {\"id\": 7}}", "agent.id"),
                Arguments.of("an agent that is a string", "{" + OK_ACTION + ", \"agent\": \"billing-bot\"}", "agent"),
                // context
                Arguments.of("a javascript url in the second link",
                        "{" + OK_ACTION + ", \"context\": {\"links\": [{\"title\": \"ok\", \"url\": \"https://erp.example.com/1\"}, "
                                + "{\"title\": \"bad\", \"url\": \"javascript:alert(1)\"}]}}", "context.links[1].url"),
                Arguments.of("an ftp url in the second link",
                        "{" + OK_ACTION + ", \"context\": {\"links\": [{\"url\": \"https://erp.example.com/1\"}, {\"url\": \"ftp://files.example.com/x\"}]}}",
                        "context.links[1].url"),
                Arguments.of("a relative url in the second link",
                        "{" + OK_ACTION + ", \"context\": {\"links\": [{\"url\": \"https://erp.example.com/1\"}, {\"url\": \"/invoices/42\"}]}}",
                        "context.links[1].url"),
                Arguments.of("a second link without a url",
                        "{" + OK_ACTION + ", \"context\": {\"links\": [{\"url\": \"https://erp.example.com/1\"}, {\"title\": \"no url\"}]}}",
                        "context.links[1].url"),
                Arguments.of("links that are an object", "{" + OK_ACTION + ", \"context\": {\"links\": {\"url\": \"https://x.example\"}}}", "context.links"),
                Arguments.of("a context that is a string", "{" + OK_ACTION + ", \"context\": \"because\"}", "context"),
                // risk
                Arguments.of("risk.level extreme", "{" + OK_ACTION + ", \"risk\": {\"level\": \"extreme\"}}", "risk.level"),
                Arguments.of("risk.level in capitals", "{" + OK_ACTION + ", \"risk\": {\"level\": \"HIGH\"}}", "risk.level"),
                Arguments.of("risk without a level", "{" + OK_ACTION + ", \"risk\": {\"explanation\": \"scary\"}}", "risk.level"),
                Arguments.of("risk that is a string", "{" + OK_ACTION + ", \"risk\": \"high\"}", "risk"),
                // timeout
                Arguments.of("timeout tomorrow", "{" + OK_ACTION + ", \"timeout\": \"tomorrow\"}", "timeout"),
                Arguments.of("timeout PT0S", "{" + OK_ACTION + ", \"timeout\": \"PT0S\"}", "timeout"),
                Arguments.of("a negative timeout", "{" + OK_ACTION + ", \"timeout\": \"-PT5M\"}", "timeout"),
                Arguments.of("a numeric timeout", "{" + OK_ACTION + ", \"timeout\": 300}", "timeout"),
                // callback_url
                Arguments.of("callback_url ftp", "{" + OK_ACTION + ", \"callback_url\": \"ftp://x\"}", "callback_url"),
                Arguments.of("callback_url without a host", "{" + OK_ACTION + ", \"callback_url\": \"https:///hook\"}", "callback_url"),
                Arguments.of("callback_url that is not a url", "{" + OK_ACTION + ", \"callback_url\": \"not a url\"}", "callback_url"));
    }

    @ParameterizedTest(name = "{0} → field \"{2}\"")
    @MethodSource("malformedAsks")
    void each_malformed_ask_is_refused_naming_the_offending_field(String what, String body, String field) {
        JsonNode json = json(body);

        assertThatThrownBy(() -> AskRequest.parse(json, AGENT))
                .isInstanceOf(InvalidInputException.class)
                .satisfies(e -> {
                    InvalidInputException iie = (InvalidInputException) e;
                    assertThat(iie.field()).as(what).isEqualTo(field);
                    assertThat(iie.code()).isEqualTo("invalid_input");
                    assertThat(iie.getMessage()).isNotBlank();
                });
    }

    @Test
    void a_missing_body_is_refused_naming_the_body() {
        assertThatThrownBy(() -> AskRequest.parse(null, AGENT))
                .isInstanceOf(InvalidInputException.class)
                .satisfies(e -> assertThat(((InvalidInputException) e).field()).isEmpty());
    }

    @ParameterizedTest(name = "amount {0}")
    @ValueSource(strings = {"99999999999999999999", "-99999999999999999999", "123456789012345678901234567890"})
    void a_param_integer_beyond_the_range_of_a_long_is_bad_input_not_a_crash(String amount) {
        JsonNode body = json("{\"action\": {\"type\": \"payments.transfer\", \"summary\": \"Pay\", \"params\": {\"amount\": " + amount + "}}}");

        Throwable thrown = catchThrowable(() -> AskRequest.parse(body, AGENT));

        // Either accepted (the policy then fails closed on it) or refused as the agent's mistake; never an unexpected exception (a 500).
        if (thrown != null) {
            assertThat(thrown).isInstanceOf(InvalidInputException.class);
            assertThat(((InvalidInputException) thrown).field()).startsWith("action.params");
        }
    }

    @Test
    void a_summary_of_exactly_the_limit_is_accepted() {
        AskRequest r = AskRequest.parse(json("{\"action\": {\"type\": \"payments.transfer\", \"summary\": \"" + "s".repeat(3000) + "\"}}"), AGENT);

        assertThat(r.action().summary()).hasSize(3000);
    }

    @Test
    void a_complete_ask_parses_every_field_with_json_ints_as_longs() {
        String body = """
                {
                  "action": {
                    "type": "payments.transfer",
                    "summary": "Pay ACME GmbH €50,000",
                    "params": {"amount": 50000, "rate": 0.125, "currency": "EUR", "memo": "für Zoë ✓",
                               "beneficiary": {"name": "ACME", "lines": [1, 2]}, "urgent": true}
                  },
                  "agent": {"id": "billing-bot", "run_id": "run-42"},
                  "requested_for": "erin",
                  "context": {"reason": "invoice due", "impact": "money leaves",
                              "links": [{"title": "Invoice", "url": "https://erp.example.com/inv/42"},
                                        {"url": "http://wiki.example.com/pay"}]},
                  "risk": {"level": "medium", "explanation": "new vendor"},
                  "callback_url": "https://agent.example.com/hook",
                  "timeout": "PT30M"
                }""";

        AskRequest r = AskRequest.parse(json(body), AGENT);

        assertThat(r.action().type()).isEqualTo("payments.transfer");
        assertThat(r.action().summary()).isEqualTo("Pay ACME GmbH €50,000");
        assertThat(r.action().params().get("amount")).isInstanceOf(Long.class).isEqualTo(50_000L);
        assertThat(r.action().params().get("rate")).isEqualTo(0.125);
        assertThat(r.action().params().get("memo")).isEqualTo("für Zoë ✓");
        assertThat(r.action().params().get("beneficiary")).isEqualTo(Map.of("name", "ACME", "lines", List.of(1L, 2L)));
        assertThat(r.action().params().get("urgent")).isEqualTo(true);
        assertThat(r.runId()).isEqualTo("run-42");
        assertThat(r.requestedFor()).isEqualTo("erin");
        assertThat(r.context()).isEqualTo(new AskContext("invoice due", "money leaves", List.of(
                new AskContext.Link("Invoice", "https://erp.example.com/inv/42"),
                new AskContext.Link("http://wiki.example.com/pay", "http://wiki.example.com/pay"))));
        assertThat(r.riskHint()).isEqualTo(RiskLevel.MEDIUM);
        assertThat(r.riskHintExplanation()).isEqualTo("new vendor");
        assertThat(r.callbackUrl()).isEqualTo("https://agent.example.com/hook");
        assertThat(r.timeout()).isEqualTo(Duration.ofMinutes(30));
    }

    @Test
    void a_minimal_ask_has_empty_optional_parts() {
        AskRequest r = AskRequest.parse(json("{" + OK_ACTION + "}"), AGENT);

        assertThat(r.action().params()).isEmpty();
        assertThat(r.runId()).isNull();
        assertThat(r.requestedFor()).isNull();
        assertThat(r.context()).isEqualTo(AskContext.EMPTY);
        assertThat(r.riskHint()).isNull();
        assertThat(r.callbackUrl()).isNull();
        assertThat(r.timeout()).isNull();
    }

    @Test
    void an_agent_id_matching_the_key_is_accepted() {
        AskRequest r = AskRequest.parse(json("{" + OK_ACTION + ", \"agent\": {\"id\": \"billing-bot\"}}"), AGENT);

        assertThat(r.runId()).isNull();
    }

    private static JsonNode json(String text) {
        try {
            return JSON.readTree(text);
        } catch (JsonProcessingException e) {
            throw new AssertionError("bad test JSON: " + text, e);
        }
    }
}
