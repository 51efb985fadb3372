package dev.countersign.server.web;

import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jwt.JWT;
import com.nimbusds.oauth2.sdk.AuthorizationCode;
import com.nimbusds.oauth2.sdk.AuthorizationCodeGrant;
import com.nimbusds.oauth2.sdk.ErrorObject;
import com.nimbusds.oauth2.sdk.ResponseType;
import com.nimbusds.oauth2.sdk.Scope;
import com.nimbusds.oauth2.sdk.TokenRequest;
import com.nimbusds.oauth2.sdk.TokenResponse;
import com.nimbusds.oauth2.sdk.auth.ClientSecretBasic;
import com.nimbusds.oauth2.sdk.auth.Secret;
import com.nimbusds.oauth2.sdk.http.HTTPRequest;
import com.nimbusds.oauth2.sdk.id.ClientID;
import com.nimbusds.oauth2.sdk.id.Issuer;
import com.nimbusds.oauth2.sdk.id.State;
import com.nimbusds.oauth2.sdk.pkce.CodeChallengeMethod;
import com.nimbusds.oauth2.sdk.pkce.CodeVerifier;
import com.nimbusds.openid.connect.sdk.AuthenticationErrorResponse;
import com.nimbusds.openid.connect.sdk.AuthenticationRequest;
import com.nimbusds.openid.connect.sdk.AuthenticationResponse;
import com.nimbusds.openid.connect.sdk.AuthenticationResponseParser;
import com.nimbusds.openid.connect.sdk.Nonce;
import com.nimbusds.openid.connect.sdk.OIDCTokenResponse;
import com.nimbusds.openid.connect.sdk.OIDCTokenResponseParser;
import com.nimbusds.openid.connect.sdk.claims.IDTokenClaimsSet;
import com.nimbusds.openid.connect.sdk.op.OIDCProviderMetadata;
import com.nimbusds.openid.connect.sdk.validators.IDTokenValidator;
import dev.countersign.server.config.ServerConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.URI;
import java.util.List;

/**
 * OpenID Connect sign-in: the authorization code flow with PKCE, a state and a nonce, and an ID token whose
 * signature (the provider's published keys), issuer, audience, expiry and nonce are all checked before its
 * e-mail is believed. The provider's metadata is read on first use, so a provider that is down delays sign-in,
 * not the start of the service.
 */
final class OidcSignIn {
    private static final Logger log = LoggerFactory.getLogger(OidcSignIn.class);
    private static final int TIMEOUT_MS = 5_000;

    /** What the provider vouched for. */
    record Identity(String subject, String email, Boolean emailVerified) {}

    /** The sign-in failed; {@code message} is safe to show, the details went to the log. */
    static final class SignInFailed extends RuntimeException {
        SignInFailed(String message) {
            super(message);
        }
    }

    private final ServerConfig.Oidc config;
    private final URI redirectUri;
    private volatile OIDCProviderMetadata metadata;
    private volatile IDTokenValidator validator;

    OidcSignIn(ServerConfig.Oidc config, String publicUrl) {
        this.config = config;
        this.redirectUri = URI.create(publicUrl + WebUi.CALLBACK);
    }

    /** The provider's authorization URL for a new sign-in, remembering what the callback must match. */
    URI start(Sessions.Session session, String returnTo) {
        OIDCProviderMetadata meta = metadata();
        State state = new State();
        Nonce nonce = new Nonce();
        CodeVerifier verifier = new CodeVerifier();
        session.pending = new Sessions.PendingSignIn(state.getValue(), nonce.getValue(), verifier.getValue(), returnTo);
        return new AuthenticationRequest.Builder(ResponseType.CODE, new Scope("openid", "email", "profile"), new ClientID(config.clientId()), redirectUri)
                .endpointURI(meta.getAuthorizationEndpointURI())
                .state(state)
                .nonce(nonce)
                .codeChallenge(verifier, CodeChallengeMethod.S256)
                .build()
                .toURI();
    }

    /** Completes a sign-in from the callback's full URL (with its query). */
    Identity finish(Sessions.Session session, URI callback) {
        Sessions.PendingSignIn pending = session.pending;
        session.pending = null; // one use, whatever happens
        if (pending == null) throw new SignInFailed("This sign-in link was already used or has expired. Start again.");
        AuthenticationResponse response;
        try {
            response = AuthenticationResponseParser.parse(callback);
        } catch (com.nimbusds.oauth2.sdk.ParseException e) {
            log.warn("OIDC callback could not be parsed: {}", e.getMessage());
            throw new SignInFailed("The identity provider's answer could not be read. Start again.");
        }
        if (response.getState() == null || !pending.state().equals(response.getState().getValue())) {
            log.warn("OIDC callback with a state that does not match the sign-in it claims to finish");
            throw new SignInFailed("This sign-in did not start here (the state does not match). Start again.");
        }
        if (response instanceof AuthenticationErrorResponse err) {
            ErrorObject e = err.getErrorObject();
            log.warn("OIDC provider refused the sign-in: {} {}", e.getCode(), e.getDescription());
            throw new SignInFailed("The identity provider refused the sign-in (" + e.getCode() + ").");
        }
        AuthorizationCode code = response.toSuccessResponse().getAuthorizationCode();
        if (code == null) throw new SignInFailed("The identity provider sent no authorization code. Start again.");
        OIDCProviderMetadata meta = metadata();
        AuthorizationCodeGrant grant = new AuthorizationCodeGrant(code, redirectUri, new CodeVerifier(pending.codeVerifier()));
        ClientID client = new ClientID(config.clientId());
        TokenRequest request = config.clientSecret() == null || config.clientSecret().isBlank()
                ? new TokenRequest(meta.getTokenEndpointURI(), client, grant)
                : new TokenRequest(meta.getTokenEndpointURI(), new ClientSecretBasic(client, new Secret(config.clientSecret())), grant);
        JWT idToken;
        try {
            HTTPRequest http = request.toHTTPRequest();
            http.setConnectTimeout(TIMEOUT_MS);
            http.setReadTimeout(TIMEOUT_MS);
            TokenResponse tokens = OIDCTokenResponseParser.parse(http.send());
            if (!tokens.indicatesSuccess()) {
                ErrorObject e = tokens.toErrorResponse().getErrorObject();
                log.warn("OIDC token request refused: {} {}", e.getCode(), e.getDescription());
                throw new SignInFailed("The identity provider refused to complete the sign-in (" + e.getCode() + ").");
            }
            idToken = ((OIDCTokenResponse) tokens.toSuccessResponse()).getOIDCTokens().getIDToken();
        } catch (SignInFailed e) {
            throw e;
        } catch (Exception e) {
            log.warn("OIDC token request failed: {}", e.toString());
            throw new SignInFailed("The identity provider could not be reached to complete the sign-in. Try again shortly.");
        }
        IDTokenClaimsSet claims;
        try {
            claims = validator().validate(idToken, new Nonce(pending.nonce()));
        } catch (Exception e) {
            log.warn("OIDC ID token refused: {}", e.toString());
            throw new SignInFailed("The identity provider's ID token did not pass the checks (signature, issuer, audience, expiry or nonce).");
        }
        return new Identity(claims.getSubject().getValue(), claims.getStringClaim("email"), claims.getBooleanClaim("email_verified"));
    }

    String returnTo(Sessions.Session session) {
        return session.pending == null ? null : session.pending.returnTo();
    }

    private OIDCProviderMetadata metadata() {
        OIDCProviderMetadata m = metadata;
        if (m != null) return m;
        synchronized (this) {
            if (metadata == null) {
                try {
                    // resolve() also checks that the document names the issuer we asked about.
                    metadata = OIDCProviderMetadata.resolve(new Issuer(config.issuer()), TIMEOUT_MS, TIMEOUT_MS);
                } catch (Exception e) {
                    log.warn("OIDC discovery at {} failed: {}", config.issuer(), e.toString());
                    throw new SignInFailed("The identity provider (" + config.issuer() + ") could not be reached. Try again shortly.");
                }
            }
            return metadata;
        }
    }

    private IDTokenValidator validator() throws java.net.MalformedURLException {
        IDTokenValidator v = validator;
        if (v != null) return v;
        synchronized (this) {
            if (validator == null) {
                OIDCProviderMetadata meta = metadata();
                List<JWSAlgorithm> algs = meta.getIDTokenJWSAlgs();
                JWSAlgorithm alg = algs == null || algs.isEmpty() || algs.contains(JWSAlgorithm.RS256) ? JWSAlgorithm.RS256 : algs.get(0);
                validator = new IDTokenValidator(meta.getIssuer(), new ClientID(config.clientId()), alg, meta.getJWKSetURI().toURL());
            }
            return validator;
        }
    }
}
