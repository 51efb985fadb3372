/**
 * Steps ⑤ ⑥ ⑧ for people in a browser: the web approval pages. {@link dev.countersign.server.web.WebChannel} is the
 * channel the core keeps up to date (it pushes live updates over server-sent events);
 * {@link dev.countersign.server.web.WebUi} adds the pages, sign-in (OpenID Connect, or a loopback-only dev sign-in)
 * and the decide form to the API's Javalin app. Pages are server-rendered text blocks ({@code Pages}, every agent
 * string escaped by {@code Html}); a decision is a {@code DecisionCommand} with channel {@code web}, and every rule
 * about who may decide stays in the core.
 */
package dev.countersign.server.web;
