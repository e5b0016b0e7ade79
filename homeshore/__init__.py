"""homeshore: network readiness and call quality for contact-centre homeworkers."""

__version__ = "0.1.0"
