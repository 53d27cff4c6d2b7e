using Microsoft.Playwright;
using ZenMesh.XdsServer.Tests.Infrastructure;

namespace ZenMesh.XdsServer.Tests.OperatorConsole;

/// <summary>
/// The operator console in a real browser (Chromium through Playwright) against a real control
/// plane: signing in with a token (a wrong one is said beside its field), seeing the tenant's
/// edges, signing out; a revoked token's console is signed out; a tenant's viewer sees nothing of
/// another tenant. Each journey saves a screenshot (TestResults/console).
/// </summary>
public sealed class ConsoleJourneyTests : IAsyncLifetime
{
    private RunningServer _server = null!;
    private IPlaywright _playwright = null!;
    private IBrowser _browser = null!;

    public async Task InitializeAsync()
    {
        _server = await RunningServer.StartAsync();
        await _server.PutAllOkAsync(("edges/local", """{"mode":"vm"}"""));
        if (File.Exists(BrowserFactAttribute.Chromium))
        {
            _playwright = await Playwright.CreateAsync();
            // Root in CI: Chromium's sandbox needs a user namespace it may not get.
            _browser = await _playwright.Chromium.LaunchAsync(new() { ExecutablePath = BrowserFactAttribute.Chromium, Headless = true, Args = ["--no-sandbox"] });
        }
    }

    public async Task DisposeAsync()
    {
        if (_browser is not null)
        {
            await _browser.DisposeAsync();
            _playwright.Dispose();
        }
        await _server.DisposeAsync();
    }

    /// <summary>The console's address as a browser reaches it (localhost: a secure context, so its Secure cookie is kept).</summary>
    private string Console(string path) => new UriBuilder(_server.HttpUri) { Host = "localhost", Path = path }.Uri.ToString();

    private static async Task ScreenshotAsync(IPage page, string name)
    {
        var dir = Directory.CreateDirectory(Path.Combine(AppContext.BaseDirectory, "TestResults", "console")).FullName;
        await page.ScreenshotAsync(new() { Path = Path.Combine(dir, name + ".png"), FullPage = true });
    }

    /// <summary>Another tenant, "acme", with an edge of its own ("acme-edge"), made by its own admin.</summary>
    private async Task AcmeWithAnEdgeAsync()
    {
        using var acme = _server.Client(await _server.CreateTenantAsync("acme"));
        using var put = await acme.PutAsync("/api/v1/edges/acme-edge", new StringContent("""{"mode":"vm"}""", System.Text.Encoding.UTF8, "application/json"));
        Assert.True(put.IsSuccessStatusCode, $"acme's edge: {(int)put.StatusCode}");
    }

    private async Task<IPage> SignInAsync(IBrowserContext context, string token)
    {
        var page = await context.NewPageAsync();
        await page.GotoAsync(Console("/ui"));
        Assert.EndsWith("/ui/sign-in", new Uri(page.Url).AbsolutePath, StringComparison.Ordinal);
        await page.FillAsync("#token", token);
        await page.ClickAsync("button[type=submit]");
        await page.WaitForURLAsync(url => new Uri(url).AbsolutePath == "/ui");
        return page;
    }

    [BrowserFact]
    public async Task SignIn_AWrongTokenIsSaidBesideItsField_TheRightOneShowsTheEdges_AndSignOutEndsIt()
    {
        await using var context = await _browser.NewContextAsync();
        var page = await context.NewPageAsync();
        await page.GotoAsync(Console("/ui"));
        Assert.Equal("/ui/sign-in", new Uri(page.Url).AbsolutePath);

        await page.FillAsync("#token", "zm_not_a_token");
        await page.ClickAsync("button[type=submit]");
        await page.WaitForSelectorAsync("#token-error");
        Assert.Contains("The API token is not known", await page.InnerTextAsync("#token-error"), StringComparison.Ordinal);
        await ScreenshotAsync(page, "sign-in-refused");

        page = await SignInAsync(context, RunningServer.AdminToken);
        var row = page.Locator("tr[data-edge=local]");
        Assert.Contains("offline", await row.InnerTextAsync(), StringComparison.Ordinal);
        Assert.Contains("tenant default", await page.InnerTextAsync("header"), StringComparison.Ordinal);
        var cookie = Assert.Single(await context.CookiesAsync(), c => c.Name == "zenmesh_console");
        Assert.True(cookie.HttpOnly && cookie.Secure && cookie.SameSite == SameSiteAttribute.Strict, "the console's cookie is HTTP-only, Secure and SameSite=Strict");
        await ScreenshotAsync(page, "edges");

        await page.ClickAsync("text=Sign out");
        await page.WaitForURLAsync(url => new Uri(url).AbsolutePath == "/ui/sign-in");
        await page.GotoAsync(Console("/ui"));
        Assert.Equal("/ui/sign-in", new Uri(page.Url).AbsolutePath);
    }

    [BrowserFact]
    public async Task AnEdgesPage_ShowsWhatWasPushedAndACKed_AndTheWholeReasonOfItsClientsNack()
    {
        await _server.PutAllOkAsync(
            ("endpoints/gh", """{"edge":"local","provider":"none"}"""),
            ("targets/orders", """{"edge":"local","allowLoopback":true,"url":"http://127.0.0.1:9100/hooks"}"""),
            ("flows/x", """{"endpoint":"gh","target":"orders"}"""));
        // The edge's node connects and NACKs its clusters, as an Envoy that cannot take them would.
        await using var edge = _server.Delta("default/local");
        await edge.SubscribeAsync(ZenMesh.Xds.Resources.TypeUrls.Cluster);
        var clusters = await edge.ReceiveAsync(ZenMesh.Xds.Resources.TypeUrls.Cluster);
        await edge.NackAsync(clusters, "cluster 'flow-x': circuit breaker thresholds exceed this edge's limits");
        await TestTimeouts.Eventually(async () => (await _server.Http.GetStringAsync("/api/v1/status")).Contains("circuit breaker", StringComparison.Ordinal), "the NACK recorded");
        await using var context = await _browser.NewContextAsync();
        var page = await SignInAsync(context, RunningServer.AdminToken);

        await page.ClickAsync("tr[data-edge=local] a");
        await page.WaitForURLAsync(url => new Uri(url).AbsolutePath == "/ui/edges/local");

        Assert.Contains("cluster 'flow-x': circuit breaker thresholds exceed this edge's limits", await page.InnerTextAsync("#last-nack"), StringComparison.Ordinal);
        Assert.Contains("NACKED", await page.InnerTextAsync("#types"), StringComparison.Ordinal);
        await ScreenshotAsync(page, "edge-nack");
    }

    [BrowserFact]
    public async Task TheOperator_SwitchesTenants_AndSeesEachOnesEdges()
    {
        await AcmeWithAnEdgeAsync();
        await using var context = await _browser.NewContextAsync();
        var page = await SignInAsync(context, RunningServer.AdminToken);
        Assert.Equal(1, await page.Locator("tr[data-edge=local]").CountAsync());

        await page.ClickAsync("#tenants a#tenant-acme");
        await page.WaitForURLAsync(url => new Uri(url).Query == "?tenant=acme");

        Assert.Equal(1, await page.Locator("tr[data-edge=acme-edge]").CountAsync());
        Assert.Equal(0, await page.Locator("tr[data-edge=local]").CountAsync());
        Assert.Contains("tenant acme", await page.InnerTextAsync("header"), StringComparison.Ordinal);
        await page.ClickAsync("tr[data-edge=acme-edge] a");
        await page.WaitForURLAsync(url => new Uri(url).AbsolutePath == "/ui/edges/acme-edge");
        Assert.Contains("Edge acme-edge", await page.InnerTextAsync("h1"), StringComparison.Ordinal);
        await ScreenshotAsync(page, "operator-in-acme");
    }

    [BrowserFact]
    public async Task ARevokedToken_SignsItsConsoleOut_AtTheNextPage()
    {
        var token = await _server.CreateTokenAsync("viewer", "soon-revoked");
        await using var context = await _browser.NewContextAsync();
        var page = await SignInAsync(context, token);

        using (var admin = _server.Client(RunningServer.AdminToken))
        {
            var listed = System.Text.Json.JsonDocument.Parse(await admin.GetStringAsync("/api/v1/tokens")).RootElement;
            var id = listed.GetProperty("items").EnumerateArray().Single(t => t.GetProperty("name").GetString() == "soon-revoked").GetProperty("id").GetString();
            using var revoked = await admin.DeleteAsync($"/api/v1/tokens/{id}");
            Assert.True(revoked.IsSuccessStatusCode, $"revoking: {(int)revoked.StatusCode}");
        }
        await page.ReloadAsync();

        Assert.Equal("/ui/sign-in", new Uri(page.Url).AbsolutePath);
        Assert.Contains("The API token is not known", await page.InnerTextAsync("#token-error"), StringComparison.Ordinal);
    }

    [BrowserFact]
    public async Task ATenantsViewer_SeesItsOwnEdges_AndNothingOfAnotherTenant()
    {
        await AcmeWithAnEdgeAsync();
        var viewer = await _server.CreateTokenAsync("viewer", "default-viewer");
        await using var context = await _browser.NewContextAsync();

        var page = await SignInAsync(context, viewer);

        Assert.Equal(1, await page.Locator("tr[data-edge=local]").CountAsync());
        Assert.Equal(0, await page.Locator("tr[data-edge=acme-edge]").CountAsync());
        Assert.DoesNotContain("acme", await page.ContentAsync(), StringComparison.Ordinal);
        Assert.Contains("(viewer)", await page.InnerTextAsync("header"), StringComparison.Ordinal);
        await ScreenshotAsync(page, "edges-as-viewer");
    }
}

/// <summary>
/// Attacks on the console, without a browser: a sign-in posted without the form's antiforgery
/// token (another site's form) is refused; the console's cookie opens nothing of the API (a page
/// elsewhere cannot ride it there); a link cannot put its own words on the sign-in page; and no
/// other site may frame a console page or load anything into it.
/// </summary>
public sealed class ConsoleAttackTests : IAsyncLifetime
{
    private RunningServer _server = null!;

    public async Task InitializeAsync() => _server = await RunningServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task ASignInPosted_WithoutTheFormsAntiforgeryToken_IsRefused_AndSetsNoCookie()
    {
        using var client = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = _server.HttpUri };

        using var posted = await client.PostAsync("/ui/session", new FormUrlEncodedContent([new("token", RunningServer.AdminToken)])).WithTimeout("a forged sign-in");

        Assert.Equal(System.Net.HttpStatusCode.BadRequest, posted.StatusCode);
        Assert.False(posted.Headers.Contains("Set-Cookie"), "a forged sign-in set a cookie");
    }

    [Fact]
    public async Task TheConsolesCookie_OpensNothingOfTheApi()
    {
        using var client = new HttpClient(new HttpClientHandler { UseCookies = false }) { BaseAddress = _server.HttpUri };
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/status");
        request.Headers.Add("Cookie", $"zenmesh_console={RunningServer.AdminToken}");

        using var answered = await client.SendAsync(request).WithTimeout("the status API with only the console's cookie");

        Assert.Equal(System.Net.HttpStatusCode.Unauthorized, answered.StatusCode);
    }

    [Fact]
    public async Task ALinkCannotPutItsOwnWords_OnTheSignInPage()
    {
        using var client = new HttpClient { BaseAddress = _server.HttpUri };

        var page = await client.GetStringAsync("/ui/sign-in?error=" + Uri.EscapeDataString("Your account is locked: call +1 555 0100")).WithTimeout("the sign-in page with an error of the link's");
        var known = await client.GetStringAsync("/ui/sign-in?error=unknown").WithTimeout("the sign-in page with a known error");

        Assert.DoesNotContain("call +1 555 0100", page, StringComparison.Ordinal);
        Assert.DoesNotContain("role=\"alert\"", page, StringComparison.Ordinal);
        Assert.Contains("The API token is not known", known, StringComparison.Ordinal);
    }

    [Fact]
    public async Task EveryConsolePage_ForbidsFramingAndOutsideContent()
    {
        using var client = new HttpClient { BaseAddress = _server.HttpUri };

        using var answered = await client.GetAsync("/ui/sign-in").WithTimeout("the sign-in page");

        var policy = string.Join(";", answered.Headers.GetValues("Content-Security-Policy"));
        Assert.Contains("frame-ancestors 'none'", policy, StringComparison.Ordinal);
        Assert.Contains("default-src 'none'", policy, StringComparison.Ordinal);
        Assert.Contains("form-action 'self'", policy, StringComparison.Ordinal);
        Assert.Equal("nosniff", Assert.Single(answered.Headers.GetValues("X-Content-Type-Options")));
    }

    [Fact]
    public async Task ATenantsViewer_NamingAnotherTenantInTheConsole_IsRefused()
    {
        await _server.CreateTenantAsync("acme");
        var viewer = await _server.CreateTokenAsync("viewer", "default-viewer");
        using var client = new HttpClient(new HttpClientHandler { UseCookies = false }) { BaseAddress = _server.HttpUri };
        using var request = new HttpRequestMessage(HttpMethod.Get, "/ui?tenant=acme");
        request.Headers.Add("Cookie", $"zenmesh_console={viewer}");

        using var answered = await client.SendAsync(request).WithTimeout("the console naming another tenant");

        Assert.Equal(System.Net.HttpStatusCode.Forbidden, answered.StatusCode);
        Assert.Contains("cannot act in tenant 'acme'", await answered.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }
}
