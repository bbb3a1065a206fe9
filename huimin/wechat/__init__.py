"""huimin.wechat."""
