package errors

import (
	"context"
	"errors"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"
)

// errorDomain marks ErrorInfo details that carry our Reason.
const errorDomain = "coxswain.io"

// codeOf is the one table from domain reasons to gRPC codes.
var codeOf = map[Reason]codes.Code{
	ReasonNotFound:           codes.NotFound,
	ReasonAlreadyExists:      codes.AlreadyExists,
	ReasonConflict:           codes.Aborted,
	ReasonInvalid:            codes.InvalidArgument,
	ReasonBadRequest:         codes.InvalidArgument,
	ReasonExpired:            codes.OutOfRange,
	ReasonForbidden:          codes.PermissionDenied,
	ReasonUnauthorized:       codes.Unauthenticated,
	ReasonServiceUnavailable: codes.Unavailable,
	ReasonTimeout:            codes.DeadlineExceeded,
	ReasonInternal:           codes.Internal,
	ReasonPrecondition:       codes.FailedPrecondition,
}

// reasonOfCode is the reverse, for errors that did not carry ErrorInfo.
var reasonOfCode = map[codes.Code]Reason{
	codes.NotFound:           ReasonNotFound,
	codes.AlreadyExists:      ReasonAlreadyExists,
	codes.Aborted:            ReasonConflict,
	codes.InvalidArgument:    ReasonBadRequest,
	codes.OutOfRange:         ReasonExpired,
	codes.PermissionDenied:   ReasonForbidden,
	codes.Unauthenticated:    ReasonUnauthorized,
	codes.Unavailable:        ReasonServiceUnavailable,
	codes.DeadlineExceeded:   ReasonTimeout,
	codes.FailedPrecondition: ReasonPrecondition,
}

// ToGRPC converts an error to a gRPC status error at the server edge. Invalid errors carry one
// BadRequest field violation per cause; every StatusError carries its Reason in ErrorInfo.
func ToGRPC(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	var se *StatusError
	if !errors.As(err, &se) {
		switch {
		case errors.Is(err, context.Canceled):
			return status.Error(codes.Canceled, err.Error())
		case errors.Is(err, context.DeadlineExceeded):
			return status.Error(codes.DeadlineExceeded, err.Error())
		}
		se = Internal(err)
	}
	code, ok := codeOf[se.Reason]
	if !ok {
		code = codes.Unknown
	}
	st := status.New(code, se.Message)
	details := []protoadapt.MessageV1{&errdetails.ErrorInfo{Reason: string(se.Reason), Domain: errorDomain}}
	if len(se.Causes) > 0 {
		br := &errdetails.BadRequest{}
		for _, c := range se.Causes {
			br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{Field: c.Field, Description: c.Message})
		}
		details = append(details, br)
	}
	if withDetails, derr := st.WithDetails(details...); derr == nil {
		st = withDetails
	}
	return st.Err()
}

// FromGRPC converts a gRPC error received by a client back into a StatusError (other errors pass through).
func FromGRPC(err error) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	se := &StatusError{Message: st.Message()}
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.ErrorInfo:
			if d.GetDomain() == errorDomain {
				se.Reason = Reason(d.GetReason())
			}
		case *errdetails.BadRequest:
			for _, v := range d.GetFieldViolations() {
				se.Causes = append(se.Causes, Cause{Field: v.GetField(), Message: v.GetDescription()})
			}
		}
	}
	if se.Reason == "" {
		r, known := reasonOfCode[st.Code()]
		if !known {
			return err
		}
		se.Reason = r
	}
	return se
}
