"""keyward.v1: messages (*_pb2) and gRPC stubs (*_pb2_grpc) generated from
proto/keyward/v1 by scripts/gen-sdks. Do not edit."""
