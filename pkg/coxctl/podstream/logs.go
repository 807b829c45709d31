package podstream

import (
	"context"
	"errors"
	"fmt"
	"io"

	apierrors "github.com/coxswain/coxswain/pkg/api/errors"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
)

// Logs copies the log selected by opts to w until the stream ends; with opts.Follow it ends when ctx is
// cancelled (which is not an error).
func Logs(ctx context.Context, c corev1.PodServiceClient, opts *corev1.PodLogOptions, w io.Writer) error {
	stream, err := c.Logs(ctx, opts)
	if err != nil {
		return apierrors.FromGRPC(err)
	}
	for {
		chunk, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return apierrors.FromGRPC(err)
		}
		if _, err := w.Write(chunk.GetData()); err != nil {
			return fmt.Errorf("write log of %s/%s: %w", opts.GetNamespace(), opts.GetName(), err)
		}
	}
}
