//! Request authentication: signature V1, V4 and presigned URLs.
