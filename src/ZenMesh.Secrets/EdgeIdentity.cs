using System.Formats.Asn1;
using System.Security.Cryptography.X509Certificates;

namespace ZenMesh.Secrets;

/// <summary>
/// An edge's identity in its certificate: the URI SAN spiffe://zenmesh/{tenant}/{edge}, which maps
/// one to one to the node id {tenant}/{edge} its Envoy and agent present.
/// </summary>
public static class EdgeIdentity
{
    private const string Prefix = "spiffe://zenmesh/";

    public static Uri UriOf(string nodeId) => new(Prefix + nodeId);

    /// <summary>The node id named by the certificate's URI SAN, or null when it names none.</summary>
    public static string? NodeIdOf(X509Certificate2 certificate)
    {
        var extension = certificate.Extensions.OfType<X509SubjectAlternativeNameExtension>().FirstOrDefault();
        if (extension is null)
        {
            return null;
        }
        // .NET enumerates DNS names and IP addresses only; URIs are GeneralName [6] IA5String.
        var uriTag = new Asn1Tag(TagClass.ContextSpecific, 6);
        var names = new AsnReader(extension.RawData, AsnEncodingRules.DER).ReadSequence();
        while (names.HasData)
        {
            if (names.PeekTag() == uriTag)
            {
                var uri = names.ReadCharacterString(UniversalTagNumber.IA5String, uriTag);
                if (uri.StartsWith(Prefix, StringComparison.Ordinal))
                {
                    return uri[Prefix.Length..];
                }
            }
            else
            {
                names.ReadEncodedValue();
            }
        }
        return null;
    }
}
