"""narrate"""
