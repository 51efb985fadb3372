package dev.countersign.server.cli;

import dev.countersign.core.CountersignException;
import dev.countersign.core.audit.AuditLog;
import dev.countersign.core.store.Database;
import dev.countersign.core.store.Json;
import dev.countersign.server.config.ConfigLoader;
import dev.countersign.server.config.ServerConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.BufferedWriter;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.function.Supplier;

/** {@code audit verify} and {@code audit export}: read the audit log straight from the configured database. */
@Command(name = "audit", description = "Check or export the hash-chained audit log.",
        subcommands = {AuditCommand.Verify.class, AuditCommand.Export.class})
public final class AuditCommand {

    @Command(name = "verify", description = "Recompute every hash of the chain; exit 0 when intact, 1 when broken.")
    public static final class Verify implements Callable<Integer> {
        /** Where the configuration comes from: the environment, as for serve; tests give their own. */
        Supplier<ServerConfig> config = AuditCommand::fromEnvironment;

        @Override
        public Integer call() {
            try (Database db = open(config)) {
                AuditLog.Verification v = new AuditLog(db).verify();
                if (v.intact()) {
                    System.out.println("audit log intact: " + v.entries() + " entries, every hash checks out");
                    return 0;
                }
                System.out.println("audit log BROKEN at entry " + v.firstBrokenSeq() + ": " + v.problem());
                return 1;
            } catch (CountersignException e) {
                System.err.println("audit: " + e.getMessage());
                return 2;
            }
        }
    }

    @Command(name = "export", description = "Write every entry as JSON lines (to standard output, or --out FILE).")
    public static final class Export implements Callable<Integer> {
        @Option(names = {"-o", "--out"}, description = "file to write (default: standard output)")
        Path out;

        /** Where the configuration comes from: the environment, as for serve; tests give their own. */
        Supplier<ServerConfig> config = AuditCommand::fromEnvironment;

        @Override
        public Integer call() throws Exception {
            try (Database db = open(config);
                 Writer w = out == null ? new BufferedWriter(new OutputStreamWriter(System.out, StandardCharsets.UTF_8)) : Files.newBufferedWriter(out)) {
                long[] n = {0};
                new AuditLog(db).forEach(r -> {
                    var line = Json.MAPPER.createObjectNode();
                    line.put("seq", r.seq());
                    line.put("at", r.at().toString());
                    line.put("approval_id", r.approvalId());
                    line.put("kind", r.kind());
                    line.put("actor", r.actor());
                    try {
                        line.set("detail", Json.MAPPER.readTree(r.detail()));
                        line.put("prev_hash", r.prevHash());
                        line.put("hash", r.hash());
                        w.write(line.toString());
                        w.write('\n');
                    } catch (java.io.IOException e) {
                        throw new java.io.UncheckedIOException(e);
                    }
                    n[0]++;
                });
                w.flush();
                if (out != null) System.err.println("exported " + n[0] + " audit entries to " + out);
                return 0;
            } catch (CountersignException e) {
                System.err.println("audit: " + e.getMessage());
                return 2;
            }
        }
    }

    private static ServerConfig fromEnvironment() {
        return ConfigLoader.load(System.getenv());
    }

    private static Database open(Supplier<ServerConfig> config) {
        return Database.open(config.get().database(), 2);
    }
}
