package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"go.temporal.io/sdk/client"
	"gorm.io/gorm"

	"github.com/kcloud/onboarding/internal/account"
	"github.com/kcloud/onboarding/internal/contact"
	"github.com/kcloud/onboarding/internal/orgname"
	"github.com/kcloud/onboarding/internal/signup"
	"github.com/kcloud/onboarding/workflows"
)

func isNotFound(err error) bool { return errors.Is(err, gorm.ErrRecordNotFound) }

type passwordBody struct {
	Password string `json:"password"`
}

func (s *Server) getInvitation(c *gin.Context) {
	inv, err := s.accounts.Invitation(c.Request.Context(), c.Param("token"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, inv)
}

func (s *Server) acceptInvitation(c *gin.Context) {
	var body passwordBody
	if err := decode(c, &body); err != nil {
		s.fail(c, err)
		return
	}
	res, err := s.accounts.AcceptInvitation(c.Request.Context(), c.Param("token"), body.Password)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.tellSignup(c.Request.Context(), res, "invitation")
	c.JSON(http.StatusOK, res)
}

// tellSignup signals the sign-up workflow that the owner's password is set.
// The signal was written to the outbox with the change, held by this
// process for its lease; if it does not get through now, the relay delivers
// it later (soon after a failed send, which lets it go; after the lease if
// this process dies first), so a failure is logged only.
func (s *Server) tellSignup(ctx context.Context, res account.PasswordSet, via string) {
	if err := s.outbox.DeliverHeld(context.WithoutCancel(ctx), res.Owed); err != nil {
		s.log.WarnContext(ctx, "password_set signal left for the outbox relay", "signup_id", res.SignupID, "via", via, "error", err)
	}
}

type resetRequest struct {
	OrganizationName string `json:"organization_name"`
	Email            string `json:"email"`
}

// requestPasswordReset answers 202 whether or not the account exists; a
// workflow looks it up and mails the link.
func (s *Server) requestPasswordReset(c *gin.Context) {
	var body resetRequest
	if err := decode(c, &body); err != nil {
		s.fail(c, err)
		return
	}
	if len(body.OrganizationName) > 100 || len(body.Email) > 254 {
		s.fail(c, invalid(map[string]string{"email": "is too long"}))
		return
	}
	if !s.allow(c, limitResetAccount, accountKey(body.OrganizationName, body.Email)) {
		return
	}
	accepted := gin.H{"message": "If the organization and email match an account, a reset link is on its way."}
	// The workflow gets the normalized organization and email. When either
	// is not valid no account can match: the answer is the same 202, and
	// nothing is started.
	org, oerr := orgname.Normalize(body.OrganizationName)
	email, eerr := contact.NormalizeEmail(body.Email)
	if oerr != nil || eerr != nil {
		c.JSON(http.StatusAccepted, accepted)
		return
	}
	id := uuid.NewString()
	ctx, cancel := context.WithTimeout(c.Request.Context(), 10*time.Second)
	defer cancel()
	_, err := s.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: "password-reset-" + id, TaskQueue: s.cfg.TaskQueue,
	}, workflows.PasswordReset, account.PasswordResetRequest{RequestID: id, OrganizationName: org, Email: email})
	if err != nil {
		s.fail(c, s.updateError(ctx, err, signup.CodeStepOutOfOrder))
		return
	}
	c.JSON(http.StatusAccepted, accepted)
}

func (s *Server) confirmPasswordReset(c *gin.Context) {
	var body passwordBody
	if err := decode(c, &body); err != nil {
		s.fail(c, err)
		return
	}
	res, err := s.accounts.ConfirmReset(c.Request.Context(), c.Param("token"), body.Password)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.tellSignup(c.Request.Context(), res, "reset")
	c.JSON(http.StatusOK, res)
}

type lookupBody struct {
	OrganizationName string `json:"organization_name"`
}

func (s *Server) lookupOrganization(c *gin.Context) {
	var body lookupBody
	if err := decode(c, &body); err != nil {
		s.fail(c, err)
		return
	}
	name, err := s.accounts.LookupOrganization(c.Request.Context(), body.OrganizationName)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, lookupBody{OrganizationName: name})
}

type signInBody struct {
	OrganizationName string `json:"organization_name"`
	Email            string `json:"email"`
	Password         string `json:"password"`
}

func (s *Server) signIn(c *gin.Context) {
	var body signInBody
	if err := decode(c, &body); err != nil {
		s.fail(c, err)
		return
	}
	if len(body.Password) > 256 {
		s.fail(c, account.ErrInvalidCredentials)
		return
	}
	if !s.allow(c, limitSignInAccount, accountKey(body.OrganizationName, body.Email)) {
		return
	}
	res, err := s.accounts.SignIn(c.Request.Context(), body.OrganizationName, body.Email, body.Password)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, res)
}

func (s *Server) me(c *gin.Context) {
	token, ok := bearer(c)
	if !ok {
		s.fail(c, account.ErrUnauthorized)
		return
	}
	res, err := s.accounts.Me(c.Request.Context(), token)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, res)
}

func (s *Server) signOut(c *gin.Context) {
	token, ok := bearer(c)
	if !ok {
		s.fail(c, account.ErrUnauthorized)
		return
	}
	if err := s.accounts.SignOut(c.Request.Context(), token); err != nil {
		s.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
