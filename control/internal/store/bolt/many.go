package bolt

import (
	"context"

	"go.etcd.io/bbolt"

	"github.com/switchyard/switchyard/control/internal/store"
)

// GetMany implements store.ManyGetter: one read transaction, one lookup by
// id each.
func (b *Backend) GetMany(_ context.Context, coll string, ids []string) ([]*store.Doc, error) {
	if _, err := b.coll(coll); err != nil {
		return nil, err
	}
	out := make([]*store.Doc, 0, len(ids))
	err := b.db.View(func(tx *bbolt.Tx) error {
		bk := tx.Bucket(dataBucket(coll))
		for _, id := range ids {
			v := bk.Get([]byte(id))
			if v == nil {
				continue
			}
			d, err := decodeDoc(id, v)
			if err != nil {
				return err
			}
			out = append(out, d)
		}
		return nil
	})
	return out, err
}
