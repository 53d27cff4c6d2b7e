namespace ZenMesh.XdsBench;

/// <summary>Command line of the benchmark; every value has a default that runs on a laptop.</summary>
internal sealed record BenchOptions
{
    public int Clients { get; init; } = 1000;
    public int Clusters { get; init; } = 100;
    public int Changes { get; init; } = 5;
    public int ClientsPerConnection { get; init; } = 250;
    public string[] Modes { get; init; } = ["sotw", "delta"];
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(120);

    public static BenchOptions Parse(string[] args)
    {
        var o = new BenchOptions();
        for (var i = 0; i < args.Length; i++)
        {
            var value = i + 1 < args.Length ? args[i + 1] : throw new ArgumentException($"{args[i]} needs a value.");
            o = args[i] switch
            {
                "--clients" => o with { Clients = Positive(args[i], value) },
                "--clusters" => o with { Clusters = Positive(args[i], value) },
                "--changes" => o with { Changes = Positive(args[i], value) },
                "--clients-per-connection" => o with { ClientsPerConnection = Positive(args[i], value) },
                "--mode" => o with { Modes = value == "both" ? ["sotw", "delta"] : value is "sotw" or "delta" ? [value] : throw new ArgumentException($"--mode takes sotw, delta or both, not '{value}'.") },
                "--timeout-seconds" => o with { Timeout = TimeSpan.FromSeconds(Positive(args[i], value)) },
                _ => throw new ArgumentException($"Unknown option '{args[i]}'. Options: --clients N (1000), --clusters N (100), --changes N (5), --mode sotw|delta|both (both), --clients-per-connection N (250), --timeout-seconds N (120)."),
            };
            i++;
        }
        return o;
    }

    private static int Positive(string name, string value) =>
        int.TryParse(value, out var n) && n > 0 ? n : throw new ArgumentException($"{name} takes a positive whole number, not '{value}'.");
}
