package control

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
)

// TestSecurityCodeRefUploadCaps: an editor uploads one branch whose
// references hold more than 16 MiB of context text (within the 64 MiB
// body limit), then fills the project with branches: the oversized upload
// and the branch beyond the cap are refused with 400 naming the field;
// replacing an existing branch still works; pages of references across many
// branches come back complete and in order while reads run concurrently.
func TestSecurityCodeRefUploadCaps(t *testing.T) {
	h := newHarness(t)
	proj := "/api/v1/projects/" + h.info.ProjectID
	line := strings.Repeat("x", 2000)
	ctx := make([]string, 21)
	for i := range ctx {
		ctx[i] = line
	}
	var refs []map[string]any
	for i := range 420 { // 420 × 21 × 2000 bytes ≈ 17.6 MB of context
		refs = append(refs, map[string]any{"flagKey": "welcome-banner", "file": fmt.Sprintf("f%d.go", i), "line": 1, "context": ctx})
	}
	r := h.do(h.admin, "POST", proj+"/code-refs", map[string]any{"repository": "acme/huge", "branch": "main", "references": refs})
	if code, field := r.errField(t); r.Code != 400 || code != "invalid" || !strings.HasPrefix(field, "references[") {
		t.Fatalf("oversized upload: %d %.200s", r.Code, r.Body)
	}

	small := func(branch string) map[string]any {
		return map[string]any{"repository": "acme/web", "branch": branch, "references": []map[string]any{
			{"flagKey": "welcome-banner", "file": "a.go", "line": 1}, {"flagKey": "checkout-flow", "file": "b.go", "line": 2}}}
	}
	for i := range 100 {
		h.must(200, h.admin, "POST", proj+"/code-refs", small(fmt.Sprintf("b%03d", i)))
	}
	r = h.do(h.admin, "POST", proj+"/code-refs", small("one-too-many"))
	if code, field := r.errField(t); r.Code != 400 || code != "invalid" || field != "branch" {
		t.Fatalf("branch 101: %d %s", r.Code, r.Body)
	}
	h.must(200, h.admin, "POST", proj+"/code-refs", small("b007")) // replacing is fine

	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			var page struct {
				Items []struct{ Branch, File string }
				Total int
			}
			r := h.do(h.admin, "GET", proj+"/code-refs?flagKey=checkout-flow&offset=95&limit=10", nil)
			if r.Code != 200 || json.Unmarshal(r.Body, &page) != nil {
				t.Errorf("read: %d %s", r.Code, r.Body)
				return
			}
			if page.Total != 100 || len(page.Items) != 5 || page.Items[0].Branch != "b095" || page.Items[4].Branch != "b099" {
				t.Errorf("page %+v", page)
			}
		})
	}
	wg.Wait()
}
