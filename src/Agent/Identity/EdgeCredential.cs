using System.Security.Cryptography.X509Certificates;

namespace ZenMesh.Agent.Identity;

/// <summary>
/// The edge's credential as the agent holds it: who it is, where its control plane is, the client
/// certificate with its key, and the CA that verifies the control plane.
/// </summary>
public sealed record EdgeCredential(string NodeId, string ControlPlane, X509Certificate2 Certificate, string ServerCaPem, string Serial, DateTimeOffset NotBefore, DateTimeOffset NotAfter)
{
    /// <summary>When renewal is due: two thirds into the certificate's life, so a failing renewal has a third left to succeed.</summary>
    public DateTimeOffset RenewAt => NotBefore + (NotAfter - NotBefore) * 2 / 3;
}
