package api

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/kcloud/onboarding/internal/metrics"
	"github.com/kcloud/onboarding/internal/retention"
	"github.com/kcloud/onboarding/internal/signup"
	"github.com/kcloud/onboarding/models"
	"github.com/kcloud/onboarding/workflows"
)

// adminAuth lets through only the ADMIN_TOKEN bearer; with no token
// configured the admin API does not exist (404).
func (s *Server) adminAuth() gin.HandlerFunc {
	return func(c *gin.Context) {
		if s.cfg.AdminToken == "" {
			s.fail(c, problem(http.StatusNotFound, "not_found", "no such route"))
			return
		}
		token, ok := bearer(c)
		if !ok || subtle.ConstantTimeCompare([]byte(token), []byte(s.cfg.AdminToken)) != 1 {
			if ok && !s.operatorRefused(c, metrics.EndpointAdmin) {
				return
			}
			s.fail(c, problem(http.StatusUnauthorized, "unauthorized", "send Authorization: Bearer <ADMIN_TOKEN>"))
			return
		}
		c.Next()
	}
}

// operatorRefused records a wrong operator token (admin API, codec server or
// its login): logged without the token, counted in
// onboarding_operator_auth_failures_total, and limited per client. It
// reports whether the caller may still answer 401; once the client has used
// up its wrong tokens it has answered 429 itself.
func (s *Server) operatorRefused(c *gin.Context, endpoint string) bool {
	s.metrics.OperatorAuthFailure(endpoint)
	s.log.WarnContext(c.Request.Context(), "operator token refused", "endpoint", endpoint,
		"route", c.FullPath(), "client_ip", c.ClientIP(), "request_id", c.GetString(string(requestIDKey)))
	return s.allow(c, limitOperatorFailIP, c.ClientIP())
}

func (s *Server) adminList(c *gin.Context) {
	fields := map[string]string{}
	status := signup.Status(c.Query("status"))
	if status != "" && !slices.Contains(signup.Statuses, status) {
		fields["status"] = "must be one of the sign-up statuses"
	}
	limit := 50
	if l := c.Query("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 500 {
			fields["limit"] = "must be a number from 1 to 500"
		}
		limit = n
	}
	if len(fields) > 0 {
		s.fail(c, invalid(fields))
		return
	}
	rows, err := s.signups.List(c.Request.Context(), status, limit)
	if err != nil {
		s.fail(c, err)
		return
	}
	out := make([]signup.AdminView, 0, len(rows))
	for _, r := range rows {
		v, err := signup.AdminViewOf(r)
		if err != nil {
			s.fail(c, err)
			return
		}
		out = append(out, v)
	}
	c.JSON(http.StatusOK, gin.H{"signups": out})
}

func (s *Server) adminRow(c *gin.Context) (models.Signup, bool) {
	row, err := s.signups.Get(c.Request.Context(), c.Param("id"))
	if err != nil {
		if errors.Is(err, signup.ErrNotFound) {
			s.fail(c, noSuchSignup())
		} else {
			s.fail(c, err)
		}
		return row, false
	}
	return row, true
}

func (s *Server) adminShow(c *gin.Context) {
	row, ok := s.adminRow(c)
	if !ok {
		return
	}
	v, err := signup.AdminViewOf(row)
	if err != nil {
		s.fail(c, err)
		return
	}
	// The workflow knows the run and the failed step; ask it when it runs.
	if desc, err := s.temporal.DescribeWorkflowExecution(c.Request.Context(), row.WorkflowID, ""); err == nil {
		v.RunID = desc.GetWorkflowExecutionInfo().GetExecution().GetRunId()
	}
	if enc, err := s.temporal.QueryWorkflow(c.Request.Context(), row.WorkflowID, "", workflows.QueryAdminView); err == nil {
		var live signup.AdminView
		if enc.Get(&live) == nil {
			v.FailedStep = live.FailedStep
		}
	}
	c.JSON(http.StatusOK, v)
}

type operatorBody struct {
	Operator string `json:"operator"`
	Reason   string `json:"reason"`
}

// operatorInput reads an operator action's optional body.
func (s *Server) operatorInput(c *gin.Context) (signup.OperatorInput, bool) {
	var body operatorBody
	if c.Request.ContentLength != 0 {
		if err := decode(c, &body); err != nil {
			s.fail(c, err)
			return signup.OperatorInput{}, false
		}
	}
	if strings.TrimSpace(body.Operator) == "" {
		body.Operator = "admin-api"
	}
	in, fields := signup.OperatorInput{Operator: body.Operator, Reason: body.Reason}.Normalized()
	if len(fields) > 0 {
		s.fail(c, invalid(fields))
		return signup.OperatorInput{}, false
	}
	return in, true
}

func (s *Server) operatorUpdate(c *gin.Context, name, closedCode string) {
	row, ok := s.adminRow(c)
	if !ok {
		return
	}
	in, ok := s.operatorInput(c)
	if !ok {
		return
	}
	var v signup.View
	if err := s.update(c, row.WorkflowID, name, in, &v, closedCode); err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, v)
}

func (s *Server) adminRetry(c *gin.Context) {
	s.operatorUpdate(c, workflows.UpdateRetry, signup.CodeNotNeedsAttention)
}

func (s *Server) adminResend(c *gin.Context) {
	s.operatorUpdate(c, workflows.UpdateResendInvite, signup.CodeNotInvited)
}

func (s *Server) adminCancel(c *gin.Context) {
	s.operatorUpdate(c, workflows.UpdateCancel, signup.CodeNotCancellable)
}

// adminErase erases an ended (abandoned or cancelled) sign-up's personal
// data now, for a person's request, recording the operator and the reason
// in the audit trail; then deletes its closed workflow from Temporal.
// Erasing twice answers the same.
func (s *Server) adminErase(c *gin.Context) {
	in, ok := s.operatorInput(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	id := c.Param("id")
	actor := signup.Actor{Kind: signup.ActorOperator, Name: in.Operator}
	row, _, err := s.eraser.Erase(ctx, id, actor, in.Reason, retention.TriggerRequest)
	switch {
	case errors.Is(err, retention.ErrNotFound):
		s.fail(c, noSuchSignup())
		return
	case errors.Is(err, retention.ErrNotEnded):
		s.fail(c, problem(http.StatusConflict, signup.CodeNotEnded, "only an abandoned or cancelled sign-up can be erased; it is "+row.Status))
		return
	case err != nil:
		s.fail(c, err)
		return
	}
	if err := retention.ForgetWorkflow(ctx, s.temporal, s.cfg.Namespace, id); err != nil {
		// The namespace's retention removes it in time; the data is erased.
		s.log.WarnContext(ctx, "erased sign-up's workflow not deleted from Temporal", "signup_id", id, "error", err)
	}
	v, err := signup.AdminViewOf(row)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, v)
}
