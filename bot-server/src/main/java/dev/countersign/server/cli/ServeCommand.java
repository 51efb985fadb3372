package dev.countersign.server.cli;

import dev.countersign.core.CountersignException;
import dev.countersign.server.CountersignServer;
import dev.countersign.server.config.ConfigLoader;
import dev.countersign.server.config.ServerConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;

import java.util.concurrent.Callable;

/** {@code serve}: runs the service until the process is stopped. */
@Command(name = "serve", description = "Run the service (config: COUNTERSIGN_CONFIG or config/countersign.yaml; every setting can be overridden by environment variables).")
public final class ServeCommand implements Callable<Integer> {
    private static final Logger log = LoggerFactory.getLogger(ServeCommand.class);

    @Override
    public Integer call() {
        try {
            ServerConfig config = ConfigLoader.load(System.getenv());
            CountersignServer server = CountersignServer.start(config);
            Runtime.getRuntime().addShutdownHook(new Thread(server::close, "shutdown"));
            log.info("Countersign listening on port {} (public URL {}), database {}", server.port(), config.publicUrl(), config.database().safeUrl());
            if (config.agentKeys().isEmpty()) {
                log.warn("no agent keys are configured: agents cannot ask yet. Add agents to {} or set COUNTERSIGN_AGENT_KEYS=agentId:key", config.source());
            }
            if (config.operatorKeys().isEmpty()) {
                log.info("no operator keys are configured (COUNTERSIGN_OPERATOR_KEYS): decisions can only come from channels");
            }
            return 0;
        } catch (CountersignException e) {
            System.err.println("countersign: " + e.getMessage());
            return 2;
        }
    }
}
