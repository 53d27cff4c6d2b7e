using System.Diagnostics;
using System.Text.RegularExpressions;
using ZenMesh.Deploy.Tests.Infrastructure;
using ZenMesh.XdsServer.Tests.RealEnvoy;

namespace ZenMesh.Deploy.Tests.Vm;

/// <summary>
/// deploy/vm: the systemd units run each service as its own unprivileged user with arguments that
/// service accepts, and install.sh lays an edge out (staged with --root, so no users or units are
/// touched on this machine) and refuses bad input with a reason.
/// </summary>
public sealed partial class VmInstallTests : IDisposable
{
    private static readonly string Directory = RepoPaths.Combine("deploy", "vm");
    private readonly ServiceCommand _commands = new();
    private readonly string _scratch = System.IO.Directory.CreateTempSubdirectory("zenmesh-vm-").FullName;

    public void Dispose()
    {
        _commands.Dispose();
        System.IO.Directory.Delete(_scratch, recursive: true);
    }

    /// <summary>Each "Key=Value" of a unit's [Service] section, in order (keys repeat: Environment=, ExecStartPre=).</summary>
    private static List<(string Key, string Value)> Service(string unit) =>
        [.. File.ReadAllLines(Path.Combine(Directory, unit))
            .SkipWhile(l => l.Trim() != "[Service]").Skip(1).TakeWhile(l => !l.StartsWith('['))
            .Where(l => l.Contains('=', StringComparison.Ordinal) && !l.StartsWith('#'))
            .Select(l => (l[..l.IndexOf('=', StringComparison.Ordinal)], l[(l.IndexOf('=', StringComparison.Ordinal) + 1)..]))];

    private static readonly string[] UnitFiles = ["zenmesh-agent.service", "zenmesh-envoy.service", "zenmesh-ingester.service", "zenmesh-egress.service"];

    public static TheoryData<string> Units => [.. UnitFiles];

    [Theory]
    [MemberData(nameof(Units))]
    public void EveryUnit_RunsAsItsOwnUnprivilegedUser_Hardened(string unit)
    {
        var service = Service(unit);
        string One(string key) => Assert.Single(service, s => s.Key == key).Value;

        Assert.Equal(Path.GetFileNameWithoutExtension(unit), One("User"));
        Assert.Equal("zenmesh", One("Group"));
        Assert.Equal("yes", One("NoNewPrivileges"));
        Assert.Equal("strict", One("ProtectSystem"));
        Assert.Equal("", One("CapabilityBoundingSet"));
        Assert.Equal("always", One("Restart"));
    }

    [Theory]
    [InlineData("zenmesh-agent.service", "zenmesh/agent")]
    [InlineData("zenmesh-ingester.service", "zenmesh/ingester")]
    [InlineData("zenmesh-egress.service", "zenmesh/egress")]
    public async Task EveryServiceCommand_PassesThatServicesOwnChecks(string unit, string image)
    {
        var service = Service(unit);
        var env = service.Where(s => s.Key == "Environment").Select(s => s.Value.Split('=', 2)).ToDictionary(p => p[0], p => p[1]);
        if (image == "zenmesh/agent")
        {
            _commands.Enroll("/var/lib/zenmesh/agent");
        }
        var commands = service.Where(s => s.Key is "ExecStartPre" or "ExecStart").Select(s => s.Value).ToList();

        Assert.NotEmpty(commands);
        foreach (var command in commands)
        {
            // "/usr/bin/dotnet <dll> args..."; $VARS from the EnvironmentFile are the operator's additions (empty here).
            var args = command.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(2).Where(a => !a.StartsWith('$')).ToList();
            var problems = await _commands.ProblemsAsync(image, args, env);
            Assert.True(problems.Count == 0, $"{unit}: {command}: {string.Join(" ", problems)}");
        }
        // The state directory systemd creates is the one the service is told to use.
        var state = "/var/lib/" + Assert.Single(service, s => s.Key == "StateDirectory").Value;
        Assert.All(commands, c => Assert.Contains(state, c, StringComparison.Ordinal));
    }

    [Fact]
    public void Envoy_ReadsTheBootstrapTheAgentWrites()
    {
        var written = Regex.Match(Service("zenmesh-agent.service").Single(s => s.Key == "ExecStartPre").Value, "--out (\\S+)").Groups[1].Value;

        Assert.Contains($"-c {written} ", Service("zenmesh-envoy.service").Single(s => s.Key == "ExecStart").Value, StringComparison.Ordinal);
    }

    [NeedsProgramFact("systemd-analyze")]
    public void Systemd_FindsNothingWrongWithTheUnits_ButTheBinariesThisMachineLacks()
    {
        var start = new ProcessStartInfo("systemd-analyze", ["verify", "--man=no", .. UnitFiles.Select(u => Path.Combine(Directory, u))]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(start)!;
        var error = process.StandardError.ReadToEnd() + process.StandardOutput.ReadToEnd();
        process.WaitForExit();

        // Envoy (and .NET, on a machine without it) is installed by the operator, not by the units.
        var problems = error.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => !NotInstalledHere().IsMatch(l)).ToList();
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    [GeneratedRegex(@"Command (/usr/local/bin/envoy|/usr/bin/dotnet) is not executable: No such file or directory$")]
    private static partial Regex NotInstalledHere();

    private static (int Exit, string Output, string Error) Install(params string[] args)
    {
        var start = new ProcessStartInfo("bash", [Path.Combine(Directory, "install.sh"), .. args]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        Assert.True(process.WaitForExit(TimeSpan.FromMinutes(1)), "install.sh did not finish in a minute");
        return (process.ExitCode, output.Result, error.Result);
    }

    [Fact]
    public void Install_StagedUnderARoot_LaysOutTheEdge_AndSaysWhatItWouldRunAsRoot()
    {
        var (root, from, bundle, envoy) = (Path.Combine(_scratch, "root"), Path.Combine(_scratch, "publish"), Path.Combine(_scratch, "bundle.json"), Path.Combine(_scratch, "envoy"));
        foreach (var s in new[] { "agent", "ingester", "egress" })
        {
            System.IO.Directory.CreateDirectory(Path.Combine(from, s));
            File.WriteAllText(Path.Combine(from, s, "marker"), s);
        }
        File.WriteAllText(bundle, "{}");
        File.WriteAllText(envoy, "#!/bin/sh\n");
        File.SetUnixFileMode(envoy, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);

        var (exit, output, error) = Install("--root", root, "--from", from, "--bundle", bundle, "--envoy", envoy, "--with-ingester", "--with-egress");

        Assert.True(exit == 0, error);
        foreach (var unit in UnitFiles)
        {
            Assert.Equal(File.ReadAllText(Path.Combine(Directory, unit)), File.ReadAllText(Path.Combine(root, "etc", "systemd", "system", unit)));
        }
        Assert.Equal("egress", File.ReadAllText(Path.Combine(root, "opt", "zenmesh", "egress", "marker")));
        Assert.True(File.Exists(Path.Combine(root, "usr", "local", "bin", "envoy")));
        Assert.True(System.IO.Directory.Exists(Path.Combine(root, "etc", "zenmesh", "secrets")));
        // The job stream's secret, for both units, readable by the owner and group zenmesh only.
        var stream = Path.Combine(root, "etc", "zenmesh", "stream.env");
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead, File.GetUnixFileMode(stream));
        var values = File.ReadAllLines(stream).Select(l => l.Split('=', 2)).ToDictionary(p => p[0], p => p[1]);
        Assert.Equal(64, values["Ingester__StreamSecret"].Length);
        Assert.Equal(values["Ingester__StreamSecret"], values["Egress__IngesterSecret"]);
        var wouldRun = output.Split('\n').Where(l => l.StartsWith("would run: ", StringComparison.Ordinal)).Select(l => l["would run: ".Length..]).ToList();
        foreach (var user in new[] { "zenmesh-agent", "zenmesh-ingester", "zenmesh-egress", "zenmesh-envoy" })
        {
            Assert.Contains(wouldRun, c => c.StartsWith("useradd --system --gid zenmesh --no-create-home", StringComparison.Ordinal) && c.EndsWith("--shell /usr/sbin/nologin " + user, StringComparison.Ordinal));
        }
        Assert.Contains(wouldRun, c => c.StartsWith("runuser -u zenmesh-agent -- /usr/bin/dotnet /opt/zenmesh/agent/ZenMesh.Agent.dll enroll --bundle", StringComparison.Ordinal));
        Assert.Contains("systemctl enable --now zenmesh-envoy zenmesh-agent zenmesh-ingester zenmesh-egress", wouldRun);
    }

    [Fact]
    public void Install_WithBadInput_SaysWhatIsWrong_AndInstallsNothing()
    {
        var root = Path.Combine(_scratch, "root");

        var unknown = Install("--root", root, "--with-everything");
        var noBundle = Install("--root", root, "--bundle", Path.Combine(_scratch, "nope.json"));
        var noPublish = Install("--root", root, "--from", _scratch);

        Assert.Equal((2, "install.sh: unknown option '--with-everything'; see --help"), (unknown.Exit, unknown.Error.Trim()));
        Assert.Equal((2, $"install.sh: --bundle '{Path.Combine(_scratch, "nope.json")}' does not exist; make one with: zenmesh enroll <edge> -o bundle.json"), (noBundle.Exit, noBundle.Error.Trim()));
        Assert.Equal(2, noPublish.Exit);
        Assert.StartsWith($"install.sh: --from '{_scratch}' has no agent/ directory", noPublish.Error, StringComparison.Ordinal);
        Assert.False(System.IO.Directory.Exists(root));
    }

    [Fact]
    public void TheInstallScript_NamesThePinnedEnvoy()
    {
        Assert.Contains($"PINNED_ENVOY={PinnedEnvoy.Version}\n", File.ReadAllText(Path.Combine(Directory, "install.sh")), StringComparison.Ordinal);
    }
}

/// <summary>A fact that needs a program on PATH; skipped, saying which, where there is none.</summary>
public sealed class NeedsProgramFactAttribute : FactAttribute
{
    public NeedsProgramFactAttribute(string program)
    {
        var found = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator).Any(d => File.Exists(Path.Combine(d, program)));
        if (!found)
        {
            Skip = $"{program} is not on PATH, so the units cannot be checked by systemd itself here.";
        }
    }
}
