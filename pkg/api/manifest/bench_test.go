package manifest

import "testing"

func BenchmarkDecodeDeployment(b *testing.B) {
	data := []byte(deploymentYAML)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Decode(data, "deploy.yaml"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeDeployment(b *testing.B) {
	docs, err := Decode([]byte(deploymentYAML), "deploy.yaml")
	if err != nil {
		b.Fatal(err)
	}
	for _, format := range []string{"yaml", "json"} {
		b.Run(format, func(b *testing.B) {
			for b.Loop() {
				if _, err := Encode(docs[0].Object, format); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
