package dev.countersign.server;

import dev.countersign.core.Countersign;
import dev.countersign.server.config.ServerConfig;
import dev.countersign.server.http.ApiServer;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;

import java.time.Clock;
import java.util.List;

/** The running service: the engine on its database plus the HTTP server in front of it. */
public final class CountersignServer implements AutoCloseable {
    private final Countersign engine;
    private final ApiServer api;
    private final ServerConfig config;

    private CountersignServer(ServerConfig config, Countersign engine, ApiServer api) {
        this.config = config;
        this.engine = engine;
        this.api = api;
    }

    /** Starts with Quartz's default scheduler name; every node of one cluster must use the same. */
    public static CountersignServer start(ServerConfig config) {
        return start(config, "countersign");
    }

    /** @param schedulerName distinct for servers that share one JVM (tests), the same across a cluster's nodes */
    public static CountersignServer start(ServerConfig config, String schedulerName) {
        PrometheusMeterRegistry meters = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        new JvmMemoryMetrics().bindTo(meters);
        new JvmThreadMetrics().bindTo(meters);
        new ProcessorMetrics().bindTo(meters);
        @SuppressWarnings("resource") JvmGcMetrics gc = new JvmGcMetrics();
        gc.bindTo(meters);
        Countersign engine = Countersign.start(new Countersign.Settings(config.database(), config.directory(), config.rules(),
                config.webhookSecrets(), List.of(), Clock.systemUTC(), meters, schedulerName, 20, 6));
        try {
            ApiServer api = new ApiServer(engine, config, meters).start();
            return new CountersignServer(config, engine, api);
        } catch (RuntimeException e) {
            engine.close();
            throw e;
        }
    }

    public Countersign engine() {
        return engine;
    }

    public int port() {
        return api.port();
    }

    public ServerConfig config() {
        return config;
    }

    @Override
    public void close() {
        api.close();
        engine.close();
    }
}
