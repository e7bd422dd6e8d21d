package api

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/kcloud/onboarding/internal/secret"
	"github.com/kcloud/onboarding/internal/signup"
	"github.com/kcloud/onboarding/internal/terms"
	"github.com/kcloud/onboarding/models"
	"github.com/kcloud/onboarding/workflows"
)

func (s *Server) terms(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"terms": terms.Catalog()})
}

type createdSignup struct {
	signup.View
	SignupToken string `json:"signup_token"`
}

// createSignup starts the sign-up workflow with the accepted terms and
// answers with the view and the sign-up's token.
func (s *Server) createSignup(c *gin.Context) {
	var body signup.AcceptTermsInput
	if err := decode(c, &body); err != nil {
		s.fail(c, err)
		return
	}
	if r := signup.CheckTerms(body.AcceptedTerms); r != nil {
		p := problem(http.StatusUnprocessableEntity, r.Code, r.Message)
		p.Fields = r.Fields
		s.fail(c, p)
		return
	}
	id := uuid.NewString()
	token, hash := secret.NewToken()
	now := time.Now().UTC()
	v := signup.View{SignupID: id, Status: signup.StatusUserInfo, AcceptedTerms: terms.Normalize(body.AcceptedTerms),
		CreatedAt: now, UpdatedAt: now}
	ctx, cancel := context.WithTimeout(c.Request.Context(), s.cfg.UpdateTimeout)
	defer cancel()
	if err := s.signups.Create(ctx, v, hash); err != nil {
		s.fail(c, err)
		return
	}
	// Step 1 rides in the start: creating a sign-up waits for no workflow
	// task (an Update-With-Start would, and its first dispatch is the
	// engine's slowest path here).
	_, err := s.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       signup.WorkflowID(id),
		TaskQueue:                s.cfg.TaskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		TypedSearchAttributes:    temporal.NewSearchAttributes(workflows.SignupStatusKey.ValueSet(string(signup.StatusUserInfo))),
	}, workflows.Signup, workflows.Input{SignupID: id, TokenHash: hash, Settings: s.cfg.Settings, AcceptedTerms: v.AcceptedTerms, CreatedAt: now, TermsRecorded: true})
	var exists *serviceerror.WorkflowExecutionAlreadyStarted
	if err != nil && !errors.As(err, &exists) && s.startedAnyway(c, id) {
		err = nil
	}
	if err != nil {
		s.fail(c, s.updateError(ctx, err, signup.CodeStepOutOfOrder))
		return
	}
	s.tokens.add(id, hash)
	s.metrics.Event(signup.EventStarted)
	c.JSON(http.StatusCreated, createdSignup{View: v, SignupToken: token})
}

// startedAnyway answers, after a start that failed, whether the workflow
// runs all the same (the start landed but its answer was lost). When it
// surely does not, the first row goes; when that cannot be told, the row
// stays, and no client holds its token.
func (s *Server) startedAnyway(c *gin.Context, id string) bool {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request.Context()), 10*time.Second)
	defer cancel()
	_, err := s.temporal.DescribeWorkflowExecution(ctx, signup.WorkflowID(id), "")
	if err == nil {
		return true
	}
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		if derr := s.signups.DeleteUnstarted(ctx, id); derr != nil {
			s.log.WarnContext(ctx, "the row of a sign-up that did not start was not deleted", "signup_id", id, "error", derr)
		}
	}
	return false
}

const (
	signupKey     = "signup"
	knownTokenKey = "signup_token_known"
	rowErrKey     = "signup_row_error" // stepRow's failed read
)

// noSuchSignup is the answer for an unknown id, a wrong token and an ended
// sign-up alike: the id's existence is not revealed.
func noSuchSignup() *Problem {
	return problem(http.StatusNotFound, "signup_not_found", "no such sign-up")
}

// signupAuth checks the sign-up's bearer token against the stored hash,
// reading the row for the handler. A missing token is 401; a wrong one, an
// unknown id or an ended sign-up, 404 (the id's existence is not revealed).
func (s *Server) signupAuth() gin.HandlerFunc {
	return func(c *gin.Context) {
		if token, ok := s.bearerOr401(c); ok {
			s.authenticate(c, token)
		}
	}
}

// stepAuth is signupAuth for the wizard steps sent as Updates, which need
// no row: a token whose hash this process knows is checked without reading
// it. That sign-up may have ended since: any refusal on this path (among
// them a closed workflow's) reads the row and is 404 once it has ended
// (fail), and so is an answer replayed for a known Idempotency-Key
// (replayedAfterEnd): an ended sign-up's token is 404 whatever the request.
func (s *Server) stepAuth() gin.HandlerFunc {
	return func(c *gin.Context) {
		token, ok := s.bearerOr401(c)
		if !ok {
			return
		}
		hash, known := s.tokens.hash(c.Param("id"))
		if !known {
			s.authenticate(c, token)
			return
		}
		if !secret.Matches(token, hash) {
			s.fail(c, noSuchSignup())
			return
		}
		c.Set(knownTokenKey, true)
		c.Next()
	}
}

// bearerOr401 is the request's bearer token; without one the request is
// answered 401.
func (s *Server) bearerOr401(c *gin.Context) (string, bool) {
	token, ok := bearer(c)
	if !ok {
		s.fail(c, problem(http.StatusUnauthorized, "unauthorized", "send Authorization: Bearer <signup_token>"))
	}
	return token, ok
}

// authenticate reads the sign-up's row and checks token against it: the
// request goes on with the row, or is answered. A live sign-up's token hash
// is remembered for stepAuth.
func (s *Server) authenticate(c *gin.Context, token string) {
	notFound := noSuchSignup()
	id := c.Param("id")
	if _, err := uuid.Parse(id); err != nil {
		s.fail(c, notFound)
		return
	}
	row, err := s.signups.Get(c.Request.Context(), id)
	if err != nil {
		if errors.Is(err, signup.ErrNotFound) {
			s.fail(c, notFound)
		} else {
			s.fail(c, err)
		}
		return
	}
	if !secret.Matches(token, row.TokenHash) {
		s.fail(c, notFound)
		return
	}
	// A sign-up's token ends with the sign-up: once it is active (the
	// owner signs in instead), cancelled or abandoned it opens nothing.
	if signup.Status(row.Status).Final() {
		s.tokens.forget(id)
		s.fail(c, notFound)
		return
	}
	s.tokens.add(id, row.TokenHash)
	c.Set(signupKey, &row)
	c.Next()
}

// replayedAfterEnd answers, for a step authenticated by a known token hash
// whose Update succeeded, whether the answer may be an earlier one replayed
// for its Idempotency-Key by a workflow that has ended since (Temporal
// answers a known Update id from a closed workflow's history) and the
// sign-up has indeed ended: the answer is then signupAuth's 404. A fresh
// answer is timed within the Update's wait (at, the view's or the
// verification's time), so only an older one costs a read of the row.
func (s *Server) replayedAfterEnd(c *gin.Context, at time.Time) bool {
	if !c.GetBool(knownTokenKey) || !idempotencyKey(c.GetHeader("Idempotency-Key")) ||
		time.Since(at) <= s.cfg.UpdateTimeout+replaySlack {
		return false
	}
	return s.rowEnded(c)
}

// replaySlack covers the clocks of API and worker processes, which time a
// step's answer.
const replaySlack = 5 * time.Second

// rowEnded reports whether the sign-up has ended or is gone (then its hash
// is forgotten), from its row (stepRow). A read that fails says no.
func (s *Server) rowEnded(c *gin.Context) bool {
	row, err := s.stepRow(c)
	if err != nil && !errors.Is(err, signup.ErrNotFound) {
		return false
	}
	if err == nil && !signup.Status(row.Status).Final() {
		return false
	}
	s.tokens.forget(c.Param("id"))
	return true
}

// stepRow is the sign-up's row for a step: the one stepAuth read, else read
// now (even when the client has gone, within rowReadTimeout), once a
// request.
func (s *Server) stepRow(c *gin.Context) (*models.Signup, error) {
	if row, ok := readRow(c); ok {
		return row, nil
	}
	if err, ok := c.Get(rowErrKey); ok {
		return nil, err.(error)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request.Context()), rowReadTimeout)
	defer cancel()
	row, err := s.signups.Get(ctx, c.Param("id"))
	if err != nil {
		c.Set(rowErrKey, err)
		return nil, err
	}
	c.Set(signupKey, &row)
	return &row, nil
}

// rowReadTimeout bounds stepRow's read, which outlives the client.
const rowReadTimeout = 10 * time.Second

func bearer(c *gin.Context) (string, bool) {
	h := c.GetHeader("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// signupRow is the row signupAuth read.
func signupRow(c *gin.Context) *models.Signup {
	return c.MustGet(signupKey).(*models.Signup)
}

// readRow is the row read for the request (by stepAuth, if it had to, or
// stepRow), if any.
func readRow(c *gin.Context) (*models.Signup, bool) {
	row, ok := c.Get(signupKey)
	if !ok {
		return nil, false
	}
	return row.(*models.Signup), true
}

func (s *Server) getSignup(c *gin.Context) {
	c.Data(http.StatusOK, "application/json; charset=utf-8", []byte(signupRow(c).View))
}

// update sends an Update to the sign-up's workflow and waits for its result.
// closedCode is the answer when the workflow has ended.
func (s *Server) update(c *gin.Context, workflowID, name string, arg, out any, closedCode string) error {
	ctx, cancel := context.WithTimeout(c.Request.Context(), s.cfg.UpdateTimeout)
	defer cancel()
	opts := client.UpdateWorkflowOptions{
		WorkflowID:   workflowID,
		UpdateName:   name,
		WaitForStage: client.WorkflowUpdateStageCompleted,
	}
	if key := c.GetHeader("Idempotency-Key"); idempotencyKey(key) {
		// A retried request with the same key gets the first one's result.
		opts.UpdateID = name + ":" + key
	}
	if arg != nil {
		opts.Args = []any{arg}
	}
	h, err := s.temporal.UpdateWorkflow(ctx, opts)
	if err == nil {
		err = h.Get(ctx, out)
	}
	if err != nil {
		// A sign-up let in by a remembered token whose workflow is gone
		// gets this refusal, which fail turns into 404 once the row says
		// the sign-up has ended.
		return s.updateError(ctx, err, closedCode)
	}
	if at, ok := answeredAt(out); ok && s.replayedAfterEnd(c, at) {
		return noSuchSignup()
	}
	return nil
}

// answeredAt is when a step's answer was made: the view's time, or the
// verification's.
func answeredAt(out any) (time.Time, bool) {
	switch v := out.(type) {
	case *signup.View:
		return v.UpdatedAt, true
	case *signup.Verification:
		return v.CheckedAt, true
	}
	return time.Time{}, false
}

// idempotencyKey reports whether an Idempotency-Key header can be an Update
// id (which enters the workflow's history): 1 to 100 visible ASCII
// characters. Any other is ignored, as if not sent.
func idempotencyKey(key string) bool {
	if key == "" || len(key) > 100 {
		return false
	}
	for i := 0; i < len(key); i++ {
		if key[i] < 0x21 || key[i] > 0x7e {
			return false
		}
	}
	return true
}

func (s *Server) updateError(ctx context.Context, err error, closedCode string) error {
	if p := fromWorkflow(err); p != nil {
		return p
	}
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return problem(statusOf[closedCode], closedCode, "the sign-up has ended; nothing more can change it")
	}
	var exists *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &exists) {
		return problem(http.StatusConflict, "signup_exists", "this sign-up exists already")
	}
	var (
		unavailable *serviceerror.Unavailable
		exhausted   *serviceerror.ResourceExhausted
		timedOut    *serviceerror.DeadlineExceeded
	)
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) ||
		errors.As(err, &unavailable) || errors.As(err, &exhausted) || errors.As(err, &timedOut) {
		return problem(http.StatusServiceUnavailable, "temporarily_unavailable", "the sign-up service is busy or restarting; try again")
	}
	return err
}

func (s *Server) stepUpdate(c *gin.Context, name string, arg any, status int) {
	var v signup.View
	if err := s.update(c, signup.WorkflowID(c.Param("id")), name, arg, &v, signup.CodeStepOutOfOrder); err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(status, v)
}

func (s *Server) verifyBusinessNumber(c *gin.Context) {
	var body signup.VerifyInput
	if err := decode(c, &body); err != nil {
		s.fail(c, err)
		return
	}
	in, err := body.Normalized()
	if err != nil {
		p := problem(http.StatusUnprocessableEntity, signup.CodeInvalidBusinessNumber, err.Error())
		p.Fields = map[string]string{"business_number": err.Error()}
		s.fail(c, p)
		return
	}
	var v signup.Verification
	if err := s.update(c, signup.WorkflowID(c.Param("id")), workflows.UpdateVerify, in, &v, signup.CodeStepOutOfOrder); err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, v)
}

func (s *Server) setUserInfo(c *gin.Context) {
	normalizedStep(s, c, workflows.UpdateUserInfo, signup.UserInfoInput.Normalized)
}

func (s *Server) setOrganization(c *gin.Context) {
	normalizedStep(s, c, workflows.UpdateOrganization, signup.OrganizationInput.Normalized)
}

// normalizedStep decodes a wizard step's body, normalizes it (refusing bad
// fields before any workflow task) and sends the step's Update.
func normalizedStep[In any](s *Server, c *gin.Context, update string, normalize func(In) (In, signup.Fields)) {
	var body In
	if err := decode(c, &body); err != nil {
		s.fail(c, err)
		return
	}
	in, fields := normalize(body)
	if len(fields) > 0 {
		s.fail(c, invalid(fields))
		return
	}
	s.stepUpdate(c, update, in, http.StatusOK)
}

func (s *Server) submit(c *gin.Context) {
	if c.Request.ContentLength > 0 {
		var body struct{}
		if err := decode(c, &body); err != nil {
			s.fail(c, err)
			return
		}
	}
	s.stepUpdate(c, workflows.UpdateSubmit, nil, http.StatusAccepted)
}

func (s *Server) nameAvailability(c *gin.Context) {
	res, err := signup.CheckName(c.Request.Context(), s.db.DB, c.Param("name"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, res)
}
