/**
 * The Microsoft Teams channel, speaking the Bot Framework protocol with maintained libraries (JDK HTTP client,
 * Jackson, nimbus-jose-jwt) instead of the retired Bot Framework SDK for Java.
 *
 * <p>Inbound: {@link dev.countersign.teams.TeamsBot} takes {@code POST /api/messages} (authenticated by
 * {@link dev.countersign.teams.BotAuthenticator}), remembers where the bot is installed
 * ({@link dev.countersign.teams.ConversationStore}) and turns card clicks into decision commands. Outbound:
 * {@link dev.countersign.teams.TeamsChannel} renders approvals as Adaptive Cards ({@link dev.countersign.teams.ApprovalCard})
 * and posts or updates them through the Connector REST API ({@link dev.countersign.teams.ConnectorClient}).
 */
package dev.countersign.teams;
