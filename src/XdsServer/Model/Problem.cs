namespace ZenMesh.XdsServer.Model;

/// <summary>One thing wrong with desired state: which resource, which field, what to do.</summary>
public sealed record Problem(string Resource, string Field, string Detail)
{
    public override string ToString() => Field.Length == 0 ? $"{Resource}: {Detail}" : $"{Resource}: field '{Field}': {Detail}";
}
