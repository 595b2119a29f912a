package control

import (
	"context"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/control/internal/store"
)

// TestSecurityWebhookToInternalAddressRefused: an account with its own
// organization points a webhook at the control host's network; each URL is
// refused with 400 naming "url" and nothing is stored.
func TestSecurityWebhookToInternalAddressRefused(t *testing.T) {
	h := newHarness(t)
	rc := newReceiver(t)
	org := h.info.OrgID
	for _, u := range []string{
		rc.srv.URL, "http://169.254.169.254/latest/meta-data/iam/", "http://[::1]:8080/", "http://127.1/",
		"http://0.0.0.0:8080/", "http://localhost:8080/", "http://[::ffff:127.0.0.1]/", "http://10.0.0.5/",
		"http://100.64.0.1/", "http://2130706433/", "file:///etc/passwd", "http://admin:pw@example.com/",
	} {
		r := h.do(h.admin, "POST", "/api/v1/orgs/"+org+"/webhooks", map[string]any{"name": "x", "url": u, "events": []string{"*"}})
		if code, field := r.errField(t); r.Code != 400 || code != "invalid" || field != "url" {
			t.Errorf("%s: %d %s", u, r.Code, r.Body)
		}
	}
	var wl struct{ Total int }
	h.must(200, h.admin, "GET", "/api/v1/orgs/"+org+"/webhooks", nil).decode(t, &wl)
	if wl.Total != 0 || len(rc.received()) != 0 {
		t.Fatalf("stored %d webhooks, receiver got %d", wl.Total, len(rc.received()))
	}
}

// TestSecurityWebhookStoredInternalURLNotReached: a webhook whose URL points
// at loopback (stored before the policy, or through another path) is sent
// the test event: the attempt is refused, the receiver sees nothing and the
// delivery log records only the refusal.
func TestSecurityWebhookStoredInternalURLNotReached(t *testing.T) {
	h := newHarness(t)
	rc := newReceiver(t)
	w := &store.Webhook{ID: "internal", OrgID: h.info.OrgID, Name: "x", URL: rc.srv.URL, Events: []string{"*"}, Enabled: true, Secret: "whsec_0123456789abcdef"}
	if err := h.s.st.CreateWebhook(context.Background(), w); err != nil {
		t.Fatal(err)
	}
	var dl store.Delivery
	h.must(200, h.admin, "POST", "/api/v1/orgs/"+h.info.OrgID+"/webhooks/internal/test", nil).decode(t, &dl)
	if len(dl.Attempts) != 1 || dl.Attempts[0].Status != 0 || !strings.Contains(dl.Attempts[0].Error, "refused") {
		t.Fatalf("delivery %+v", dl)
	}
	if n := len(rc.received()); n != 0 {
		t.Fatalf("loopback receiver got %d requests", n)
	}
}
