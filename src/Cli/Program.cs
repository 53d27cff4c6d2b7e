return await ZenMesh.Cli.ZenMeshCli.RunAsync(args, Console.Out, Console.Error).ConfigureAwait(false);
