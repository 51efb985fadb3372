package dev.countersign.server;

import dev.countersign.server.cli.AuditCommand;
import dev.countersign.server.cli.DecideCommand;
import dev.countersign.server.cli.DemoCommand;
import dev.countersign.server.cli.McpGatewayCommand;
import dev.countersign.server.cli.ServeCommand;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code java -jar countersign.jar <command>}: the one entry point of the runnable jar. */
@Command(name = "countersign", mixinStandardHelpOptions = true, version = "Countersign 0.1.0",
        description = "Human-in-the-loop approvals for AI agents.",
        subcommands = {ServeCommand.class, DemoCommand.class, DecideCommand.class, AuditCommand.class,
                McpGatewayCommand.class})
public final class Main implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        if (args.length > 0 && args[0].equals("mcp-gateway")) McpGatewayCommand.keepStdoutForMcp(); // before any logging starts
        int code = new CommandLine(new Main()).setCaseInsensitiveEnumValuesAllowed(true).execute(args);
        if (code != 0 || !isLongRunning(args)) System.exit(code);
    }

    private static boolean isLongRunning(String[] args) {
        return args.length > 0 && (args[0].equals("serve") || args[0].equals("demo"));
    }

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }
}
