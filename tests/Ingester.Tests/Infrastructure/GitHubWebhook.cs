using System.Security.Cryptography;
using System.Text;

namespace ZenMesh.Ingester.Tests.Infrastructure;

/// <summary>A push as GitHub sends it: the body signed with the endpoint's secret (X-Hub-Signature-256), and its delivery id.</summary>
internal static class GitHubWebhook
{
    public static HttpRequestMessage Request(string path, string body, string delivery, string secret)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Add("X-Hub-Signature-256", "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes(body))));
        request.Headers.Add("X-GitHub-Delivery", delivery);
        request.Headers.Add("X-GitHub-Event", "push");
        return request;
    }
}
