package dev.countersign.server;

import dev.countersign.server.cli.AuditCommand;
import dev.countersign.server.cli.DecideCommand;
import dev.countersign.server.cli.DemoCommand;
import dev.countersign.server.cli.GateCommand;
import dev.countersign.server.cli.McpGatewayCommand;
import dev.countersign.server.cli.ServeCommand;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code java -jar countersign.jar <command>}: the one entry point of the runnable jar. */
@Command(name = "countersign", mixinStandardHelpOptions = true, version = "Countersign 0.1.0",
        description = "Human-in-the-loop approvals for AI agents.",
        subcommands = {ServeCommand.class, DemoCommand.class, DecideCommand.class, AuditCommand.class, GateCommand.class,
                McpGatewayCommand.class})
public final class Main implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        if (args.length > 0 && args[0].equals("mcp-gateway")) McpGatewayCommand.keepStdoutForMcp(); // before any logging starts
        int code = commandLine().execute(args);
        if (code != 0 || !isLongRunning(args)) System.exit(code);
    }

    /** The command line with every subcommand (tests run it without {@link #main}, which calls System.exit). */
    public static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new Main()).setCaseInsensitiveEnumValuesAllowed(true);
        GateCommand.install(cl); // gate's usage errors exit 3, its contract
        return cl;
    }

    private static boolean isLongRunning(String[] args) {
        return args.length > 0 && (args[0].equals("serve") || args[0].equals("demo"));
    }

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }
}
