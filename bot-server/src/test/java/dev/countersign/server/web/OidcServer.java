package dev.countersign.server.web;

import dev.countersign.server.TestServer;
import dev.countersign.server.config.ServerConfig;
import no.nav.security.mock.oauth2.MockOAuth2Server;
import no.nav.security.mock.oauth2.OAuth2Config;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.nio.file.Path;

/**
 * A real OpenID Connect provider for tests (mock-oauth2-server, issuer {@code default}) and the test server's
 * config pointed at it. The server needs a known port: the redirect URI the provider sends browsers back to is
 * built from the public URL.
 */
final class OidcServer {
    static final String CLIENT_ID = "countersign";
    static final String CLIENT_SECRET = "a-client-secret";

    private OidcServer() {}

    /** @param interactive true: the provider shows a login form (user name and claims JSON), as a browser test wants */
    static MockOAuth2Server start(boolean interactive) {
        MockOAuth2Server idp = interactive
                ? new MockOAuth2Server(OAuth2Config.Companion.fromJson("{\"interactiveLogin\": true}"))
                : new MockOAuth2Server(new OAuth2Config());
        idp.start();
        return idp;
    }

    static ServerConfig config(Path dir, MockOAuth2Server idp, int port) {
        String yaml = TestServer.CONFIG.replace("%DB%", TestServer.h2Url(dir))
                .replace("  port: 0\n", "  port: " + port + "\n  public_url: http://localhost:" + port + "\n")
                + "channels:\n  web:\n    oidc: { issuer: \"" + idp.issuerUrl("default") + "\", client_id: " + CLIENT_ID
                + ", client_secret: " + CLIENT_SECRET + " }\n";
        return TestServer.config(yaml, TestServer.env());
    }

    static int freePort() {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
