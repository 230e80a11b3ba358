import JSONCore

// Datasets' JSON types are JSONCore's (the names Training, the CLI and the tests already use).
public typealias JSONValue = JSONCore.JSONValue
public typealias JSONObject = JSONCore.JSONObject
public typealias JSONParser = JSONCore.JSONParser
public typealias JSONParseOptions = JSONCore.JSONParseOptions
public typealias JSONParseError = JSONCore.JSONParseError
public typealias JSONWriter = JSONCore.JSONWriter
public typealias JSONWriteOptions = JSONCore.JSONWriteOptions
