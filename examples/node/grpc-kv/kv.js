// The key-value service's gRPC definition, shared by the server and its workload: messages are
// JSON, so no code generation and no .proto loader are needed.
'use strict';

const json = {
  serialize: (value) => Buffer.from(JSON.stringify(value)),
  deserialize: (bytes) => JSON.parse(bytes.toString('utf8')),
};

function unary(name) {
  return {
    path: `/kv.KV/${name}`,
    requestStream: false,
    responseStream: false,
    requestSerialize: json.serialize,
    requestDeserialize: json.deserialize,
    responseSerialize: json.serialize,
    responseDeserialize: json.deserialize,
  };
}

module.exports = {
  KV: {
    Put: unary('Put'),
    Get: unary('Get'),
    List: {
      ...unary('List'),
      responseStream: true,
    },
  },
};
