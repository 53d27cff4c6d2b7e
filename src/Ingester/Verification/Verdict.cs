namespace ZenMesh.Ingester.Verification;

/// <summary>Why a webhook was refused: a stable code (counted, and put in the 401 body) and a detail that names no secret.</summary>
public enum RejectReason
{
    MissingSignature,
    MalformedSignature,
    SignatureMismatch,
    MissingTimestamp,
    StaleTimestamp,
    MissingId,
    NoSecret,
}

/// <summary>
/// The outcome of verifying one webhook: accepted with the provider's event id (if it has one), or
/// refused with why. <see cref="EventIdSigned"/>: the signature covers the id, so it may say which
/// event this is; when it does not (GitHub's and Shopify's delivery headers), anyone holding one
/// captured request could give it a fresh id, so the signed body identifies it instead.
/// </summary>
public sealed record Verdict(bool Verified, string? EventId, RejectReason? Reason, string Detail, bool EventIdSigned = true)
{
    public static Verdict Accept(string? eventId, bool idIsSigned = true) => new(true, eventId, null, "verified", idIsSigned);

    public static Verdict Reject(RejectReason reason, string detail) => new(false, null, reason, detail);

    /// <summary>snake_case, as it appears in answers and metrics: signature_mismatch, stale_timestamp, ...</summary>
    public string? ReasonCode => Reason is { } r ? string.Concat(r.ToString().Select((c, i) => i > 0 && char.IsUpper(c) ? "_" + char.ToLowerInvariant(c) : char.ToLowerInvariant(c).ToString())) : null;
}
