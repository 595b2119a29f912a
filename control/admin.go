package control

import (
	"context"
	"fmt"

	"github.com/switchyard/switchyard/control/internal/auth"
)

// ResetPassword sets a new password for the account with the given email
// (password, or a random one when empty), ends every session of the account
// and returns the password. It is the operator's way back in when the
// initial password was lost: the mains run it as `admin reset-password`
// after New, without Start (on the embedded store the instance must be
// stopped; LockDataDir says which process holds it).
func (s *Server) ResetPassword(ctx context.Context, email, password string) (string, error) {
	if password == "" {
		password = auth.NewPassword()
	}
	if len(password) < auth.MinPasswordLen || len(password) > 72 {
		return "", fmt.Errorf("password: must be %d to 72 characters", auth.MinPasswordLen)
	}
	u, err := s.st.GetUserByEmail(ctx, email)
	if err != nil {
		return "", fmt.Errorf("account %s: %w", email, err)
	}
	h, err := auth.HashPassword(password)
	if err != nil {
		return "", err
	}
	v := *u
	v.PasswordHash = h
	if err := s.st.UpdateUser(ctx, &v, u.Version); err != nil {
		return "", fmt.Errorf("cannot update %s: %w", email, err)
	}
	if _, err := s.st.DeleteSessionsOfUser(ctx, u.ID, ""); err != nil {
		return "", fmt.Errorf("password changed, but the sessions of %s could not all be ended: %w", email, err)
	}
	return password, nil
}
