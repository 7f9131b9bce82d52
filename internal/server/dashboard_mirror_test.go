package server_test

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// mirrorRollout copies every request to v2 while users stay on v1.
const mirrorRollout = `apiVersion: kanaria.dev/v1alpha1
kind: Rollout
metadata:
  name: web
spec:
  revision: v1
  platform:
    static:
      revisions:
        v1: [%q]
        v2: [%q]
  strategy:
    canary:
      steps:
        - setMirror: {name: all, percentage: 100}
        - pause: {}
`

// The rollout page shows the comparison of mirrored answers as it grows:
// the demo app's v2 answers "hello from v2" where v1 says "hello from v1",
// so GET / differs in its body on every request.
func TestDashboardShowsShadowTrafficInChromium(t *testing.T) {
	e := newDashEnvWith(t, mirrorRollout)
	ctx := newBrowser(t)
	stop := make(chan struct{})
	wg := traffic(e.routerURL, stop)
	defer func() { close(stop); wg.Wait() }()

	within(t, ctx, 20*time.Second, "log in",
		chromedp.Navigate(e.api.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS("#login-form")),
		chromedp.SendKeys(chromedp.CSS("#token"), e.token),
		chromedp.Click(chromedp.CSS("#login-form button")),
		chromedp.WaitVisible(chromedp.CSS(`#rollout-list tr[data-name="web"] a`)),
		chromedp.Click(chromedp.CSS(`#rollout-list tr[data-name="web"] a`)),
		chromedp.WaitVisible(chromedp.CSS("#weight")))
	waitText(t, ctx, "#diff-summary", "no shadow traffic: a setMirror step or strategy.canary.mirror starts it")
	if code, body := e.do(t, "POST", "/v1/rollouts/web/start", `{"revision":"v2"}`); code != 200 {
		t.Fatalf("start: %d %s", code, body)
	}
	waitText(t, ctx, "#steps li.done", "setMirror all 100%")
	waitText(t, ctx, "#diff tr:first-child td:nth-child(1)", "GET /")
	waitText(t, ctx, "#diff tr:first-child td:nth-child(2)", "body")
	waitText(t, ctx, "#diff tr:first-child td:nth-child(3)", "100.00%")
	waitText(t, ctx, "#diff tr:first-child td:nth-child(6)", "yes")
	if got := eval[string](t, ctx, `document.querySelector("#diff tr:first-child").className`); got != "significant" {
		t.Errorf("row class %q", got)
	}
	if w := eval[string](t, ctx, `document.querySelector("#weight").textContent`); w != "0%" {
		t.Errorf("weight %q: mirroring must not send users to the canary", w)
	}
	screenshot(t, ctx, "dashboard-shadow.png")
}
